"""Which text masked-LM pretraining reads (`posenc_hf.data.pretraining_texts`): by default the training
split only, never a validation or test text; GoEmotions' unlabelled comments and MMLU's questions
with their options."""

from posenc_hf.data.pretraining_texts import pretraining_texts
from posenc_hf.data.sources import load_corpus
from posenc_hf.training.arguments import DataArguments


def write_corpus(folder):
    folder.mkdir()
    rows = [f"sample text number {i} about topic {i % 2},{'Biology' if i % 2 else 'Chemistry'}" for i in range(40)]
    (folder / "data.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    return folder / "data.csv"


def test_pretraining_reads_train_text_only_by_default(tmp_path):
    path = write_corpus(tmp_path / "corpus")
    data_args = DataArguments(corpus=str(path), validation_size=0.2, test_size=0.2)
    dataset = load_corpus(str(path), validation_size=0.2, test_size=0.2, seed=0)
    texts = pretraining_texts(dataset, data_args, seed=0)
    assert sorted(texts) == sorted(dataset["train"]["text"])
    every_split = DataArguments(**{**vars(data_args), "pretrain_splits": list(dataset)})
    everything = pretraining_texts(dataset, every_split, seed=0)
    assert len(everything) == 40


def test_goemotions_pretraining_text_leaves_out_validation_and_test(shared_dir):
    data_args = DataArguments(corpus="goemotions", data_dir=str(shared_dir / "data" / "goemotions"))
    dataset = load_corpus("goemotions", data_dir=data_args.data_dir, seed=0)
    texts = set(pretraining_texts(dataset, data_args, seed=0))
    assert len(texts) > 30_000  # every train.tsv comment, not only the labelled rows
    held_out = set(dataset["validation"]["text"]) | set(dataset["test"]["text"])
    assert not texts & held_out  # also when train.tsv repeats a validation or test text
    assert set(dataset["train"]["text"]) - held_out <= texts


def test_mmlu_pretraining_text_is_train_questions_with_options(shared_dir):
    data_args = DataArguments(corpus="mmlu", data_dir=str(shared_dir / "data" / "mmlu"))
    dataset = load_corpus("mmlu", data_dir=data_args.data_dir, seed=0)
    texts = pretraining_texts(dataset, data_args, seed=0)
    train = set(dataset["train"]["text"])
    with_options = [text for text in texts if text not in train]
    assert len(with_options) == len(train) and all("\nA. " in text for text in with_options)
    held_out = set(dataset["validation"]["text"]) | set(dataset["test"]["text"])
    assert not any(text.startswith(question) for text in with_options for question in held_out)
