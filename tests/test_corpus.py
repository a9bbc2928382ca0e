import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode, load_splits, read_sentences, split_sentences, tokenize_raw
from perplex.errors import PerplexError


def test_ptb_token_counts_follow_the_conventions(ptb):
    # docs/conventions.md: N = words + sentences; train 929,589, valid 73,760, test 82,430.
    assert {k: c.n_tokens for k, c in ptb.corpora.items()} == {"train": 929589, "valid": 73760, "test": 82430}
    assert len(ptb.vocab) == 10000  # 9,999 word types (with <unk>) + </s>
    assert ptb.corpora["test"].oov.sum() == 0  # <unk> is an ordinary PTB word
    test = ptb.corpora["test"]
    first = [ptb.vocab.tokens[i] for i in test.sentence(0)]
    assert first == "no it was n't black monday </s>".split()


def test_vocabulary_ids_counts_and_cutoffs():
    sents = [["b", "a", "b"], ["c", "b", "a"]]
    v = Vocabulary.build(sents)
    assert v.tokens == ["</s>", "<unk>", "b", "a", "c"]
    assert v.counts.tolist() == [2, 0, 3, 2, 1]
    v2 = Vocabulary.build(sents, min_count=2)
    assert v2.tokens == ["</s>", "<unk>", "b", "a"] and v2.counts[1] == 1  # c -> <unk>
    v3 = Vocabulary.build(sents, max_vocab=3)
    assert v3.tokens == ["</s>", "<unk>", "b"] and v3.counts[1] == 3
    assert v.ids(["a", "zzz"]).tolist() == [3, 1]


def test_vocabulary_rejects_bad_options_and_reserved_tokens():
    with pytest.raises(PerplexError, match="min-count"):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(PerplexError, match="max-vocab"):
        Vocabulary.build([["a"]], max_vocab=2)
    with pytest.raises(PerplexError, match="reserved token <s>"):
        Vocabulary.build([["<s>", "a"]])


def test_encode_flat_ids_offsets_oov_and_chars():
    v = Vocabulary.build([["the", "cat"]])
    enc = encode([["the", "dog"], [], ["cat"]], v)
    assert enc.ids.dtype == np.int32
    assert enc.ids.tolist() == [2, 1, 0, 0, 3, 0]
    assert enc.offsets.tolist() == [0, 3, 4, 6]
    assert enc.oov.tolist() == [False, True, False, False, False, False]
    # "the dog\n" = 8, "\n" = 1, "cat\n" = 4
    assert enc.sentence_chars.tolist() == [8, 1, 4] and enc.n_chars == 13
    sub = enc.subset([2, 0])
    assert sub.ids.tolist() == [3, 0, 2, 1, 0] and sub.offsets.tolist() == [0, 2, 5]
    assert sub.n_chars == 12 and sub.oov.tolist() == [False, False, False, True, False]


def test_tokenize_raw_sentences_and_lowercase():
    text = 'He said "no." Then he left!\n\nA new paragraph, here. it continues'
    assert tokenize_raw(text) == [
        ["He", "said", "``", "no", ".", "''"], ["Then", "he", "left", "!"],
        ["A", "new", "paragraph", ",", "here.", "it", "continues"],  # no capital: one sentence
    ]
    lower = tokenize_raw("One. Two.", lowercase=True)
    assert lower == [["one", "."], ["two", "."]]
    # cut on the capitals before lowercasing: "Mr. Smith" stays one sentence
    assert tokenize_raw("Mr. Smith left. He ran.", lowercase=True) == [["mr.", "smith", "left", "."], ["he", "ran", "."]]


def test_tokenize_raw_one_sentence_per_line():
    """Lowercase lines without final punctuation (the Penn Treebank written as raw text):
    each line is a sentence, however many there are; a hard-wrapped paragraph is one."""
    lines = ["pierre unk n years old will join the board as a nonexecutive director nov. n",
             "mr. unk is chairman of unk n.v. the dutch publishing group", "it fell", "shares rose n %"]
    assert [len(s) for s in tokenize_raw("\n".join(lines))] == [15, 11, 2, 4]
    book = ("It was the best of times, it was the worst of times, it was\n"
            "the age of wisdom, it was the age of foolishness, it was the\n"
            "epoch of belief\n\nThere were a king with a large jaw.")
    assert [s[-1] for s in tokenize_raw(book)] == ["belief", "."]


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"  \n\n", "empty"), (b"abc\x00def", "binary"), (b"caf\xe9\n", "not valid UTF-8")],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(PerplexError, match=message) as err:
        read_sentences(f)
    assert "\n" not in str(err.value)


def test_missing_file_and_folder_reading(tmp_path):
    with pytest.raises(PerplexError, match="file not found"):
        read_sentences(tmp_path / "nope.txt")
    (tmp_path / "b.txt").write_text("second file\n")
    (tmp_path / "a.txt").write_text("first file\n")
    assert read_sentences(tmp_path) == [["first", "file"], ["second", "file"]]


def test_split_is_deterministic_and_contiguous(tmp_path):
    sents = [[f"w{i}"] for i in range(100)]
    parts = split_sentences(sents, 0.1, 0.1)
    assert parts["train"] == sents[:80] and parts["valid"] == sents[80:90] and parts["test"] == sents[90:]
    f = tmp_path / "all.txt"
    f.write_text("\n".join(" ".join(s) for s in sents))
    a = load_splits(f, split=(0.1, 0.1))
    b = load_splits(f, split=(0.1, 0.1))
    assert a.corpora["test"].ids.tolist() == b.corpora["test"].ids.tolist()
    assert a.train.n_tokens == 160  # 80 sentences of one word + </s>
    with pytest.raises(PerplexError, match="too few"):
        split_sentences([["a"], ["b"]], 0.1, 0.1)


def test_train_without_test_is_an_actionable_error(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("a b\n")
    with pytest.raises(PerplexError, match="--test FILE"):
        load_splits(f)


def test_validation_data_held_out_of_train_when_none_is_given(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("\n".join(f"w{i} common" for i in range(20)) + "\n")
    test.write_text("common w0\n")
    data = load_splits(train, test=test, hold_out_valid=0.1)
    assert list(data.corpora) == ["train", "valid", "test"] and data.valid_held_out == 0.1
    assert data.sentences["valid"] == [["w18", "common"], ["w19", "common"]]  # the last 10%, contiguous
    assert data.train.n_sentences == 18 and "w19" not in data.vocab  # the vocabulary is train's alone
    assert data.describe_valid() == "valid (the last 10% of the training sentences, held out)"
    given = load_splits(train, valid=test, test=test, hold_out_valid=0.1)  # a valid split: nothing held out
    assert given.valid_held_out is None and given.train.n_sentences == 20 and given.describe_valid() == "valid"
    one = tmp_path / "one.txt"
    one.write_text("a b\n")
    with pytest.raises(PerplexError, match="too few to hold some out"):
        load_splits(one, test=test, hold_out_valid=0.1)


def test_atomic_write_leaves_usual_permissions_and_no_temp_on_failure(tmp_path):
    import os

    from perplex.fileio import atomic_write

    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("ok")
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_text() == "ok" and os.stat(target).st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "ok" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
