"""``perplex generate``: sample text from an n-gram model or a Transformer checkpoint.

It is the one command that serves two model families, so it lives with the CLI
rather than in either family (which must not import each other).
"""

from __future__ import annotations

from perplex.cli_common import Formatter, finite_float, positive_int, seed_int
from perplex.device import DEVICES
from perplex.errors import PerplexError
from perplex.resources import check_memory

HELP = """\
Sample sentences from an n-gram model (an ARPA file or a model saved with
'ngram --save'), or continue a prompt with a Transformer checkpoint (from the
'transformer' command). One sentence per line: </s> ends a line. A Transformer
sample runs over sentence ends, so it can take several lines; samples are then
separated by a blank line.

examples:
  perplex generate --arpa ptb3.arpa -n 5 --seed 1
  perplex generate --model runs/transformer.pt --prompt "the stock market" --max-len 40
"""


def register(sub) -> None:
    from perplex.lm.cli import add_model_options

    g = sub.add_parser("generate", help="sample text from a model (n-gram or Transformer)", description=HELP,
                       formatter_class=Formatter)
    add_model_options(g, transformer=True)
    g.add_argument("-n", "--num", type=positive_int, default=5, help="how many samples")
    g.add_argument("--seed", type=seed_int, default=None, help="random seed (same seed, same samples)")
    g.add_argument("--max-len", type=positive_int, default=50, help="stop a sample after this many words")
    g.add_argument("--prompt", default="", help="words every sample starts with (a Transformer needs one)")
    g.add_argument("--temperature", type=finite_float, default=1.0,
                   help="sharpen (<1) or flatten (>1) the distributions; 0 is greedy for a Transformer")
    g.add_argument("--top-k", type=positive_int, default=None, help="sample only among the k most likely words")
    g.add_argument("--device", choices=DEVICES, default="auto", help="where a Transformer runs")
    g.set_defaults(run=run_generate)


# Bytes per generated Transformer token held until the text is printed (ids in
# two Python lists, the int objects, the words of the text).
TRANSFORMER_BYTES_PER_TOKEN = 100


def run_generate(args) -> int:
    from perplex.lm import load_model, read_arpa
    from perplex.lm.sampling import iter_sentences
    from perplex.lm.storage import is_model_file

    if args.model and not is_model_file(args.model):
        from perplex.attention.generate import generate_from_checkpoint, is_checkpoint

        if is_checkpoint(args.model):
            seed = 0 if args.seed is None else args.seed
            if seed + args.num - 1 >= 2**64:  # sample i uses seed + i, a 64-bit torch seed
                raise PerplexError(f"--seed plus -n must stay below 2**64 for a Transformer, got {seed} + {args.num}")
            # A Transformer draws exactly --max-len tokens (sentence ends do not stop it).
            check_memory(TRANSFORMER_BYTES_PER_TOKEN * float(args.max_len), f"--max-len {args.max_len:,}",
                         "lower --max-len")
            for i in range(args.num):
                text = generate_from_checkpoint(args.model, args.prompt, args.max_len, args.temperature,
                                                args.top_k, seed + i, args.device)
                if i:
                    print()  # a blank line between samples
                # an empty sentence (</s> twice) prints nothing, so a blank line only ever separates samples
                lines = (" ".join(line.split()) for line in f"{args.prompt} {text}".split("\n"))
                print("\n".join(line for line in lines if line))
            return 0
    model = read_arpa(args.arpa) if args.arpa else load_model(args.model)
    # One batch of sentences at a time: any -n and --max-len fit in memory.
    for words in iter_sentences(model, args.num, args.seed, args.max_len, args.prompt.split(), args.temperature,
                                args.top_k):
        print(" ".join(words))
    return 0
