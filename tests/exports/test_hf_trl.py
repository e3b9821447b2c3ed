"""Acceptance: what the export endpoint and a snapshot's Parquet file give is a dataset that
Hugging Face ``datasets`` loads and TRL trains on, with nothing downloaded.

Two projects go in through the importer: a plain-prompt one from TRL's standard preference
lines, and a conversational one from Anthropic's HH-RLHF test lines; each item also gets a
human label that agrees, of varied strength (so that ``margin`` varies). Their ``trl``
exports are fetched over HTTP (``GET .../export/?format=trl``) and as a built snapshot's
Parquet file (``POST .../snapshots/``, the Celery task run eagerly, then ``download``), read
with ``datasets.load_dataset("json" | "parquet")``, checked against what was imported and
against TRL's own format predicates, and fed to TRL's ``DPOTrainer`` and ``RewardTrainer``
for two steps each on a tiny randomly initialised Llama with a word-level tokenizer trained
here on the exported texts.

DPO's first step is a check on the data path, not only a smoke test: with the policy equal
to the reference, every implicit reward is 0, so the loss of the first batch is exactly
-log σ(0) = ln 2 (Rafailov et al. 2023, "Direct Preference Optimization", eq. 7).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math

import pytest
import torch

datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from django.test import Client  # noqa: E402

from annotation import services  # noqa: E402
from annotation.imports import services as imports  # noqa: E402
from annotation.imports.formats import parse_hh_rlhf  # noqa: E402
from annotation.models import Annotation, Item, Membership  # noqa: E402

pytestmark = pytest.mark.django_db

N_ITEMS = 12
MAX_POSITIONS = 4096  # longer than any exported conversation here
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
# One turn per message, each closed by the end-of-sequence token, as chat models are trained.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
TRAINING = dict(max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3, use_cpu=True,
                report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True,
                # No truncation: every exported pair is trained on whole (TRL would drop a
                # conversation longer than the limit).
                max_length=None, seed=0, dataloader_num_workers=0)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Nothing may reach the Hub: the environment says so, and the flags the libraries read
    at import time are set too (they may have been imported before this test)."""
    import huggingface_hub.constants

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


# --- the projects -----------------------------------------------------------------------------

def standard_lines() -> list[dict]:
    """TRL's standard preference format: a prompt and two answers, the first preferred."""
    return [{"prompt": f"What is {n} plus {n + 3}? Answer in a sentence.",
             "chosen": f"{n} plus {n + 3} is {2 * n + 3}, since adding {n + 3} to {n} gives it.",
             "rejected": f"It is {2 * n + 4}."} for n in range(N_ITEMS)]


def hh_lines(hh_rlhf_lines) -> list[dict]:
    """The first HH-RLHF lines whose two answers differ (the same text twice is a tie,
    which a ties=drop export leaves out)."""
    out = []
    for line in hh_rlhf_lines:
        record = parse_hh_rlhf(line)
        if record.responses[0].text != record.responses[1].text:
            out.append(line)
        if len(out) == N_ITEMS:
            return out
    raise AssertionError("the HH-RLHF file has too few usable lines")


def labelled_project(make_user, *, name: str, lines: list[dict], format: str):
    """A K=2 project imported with its lines' preferences, plus one agreeing human label per
    item of strength 1, 2, 3 or none in turn."""
    manager = make_user(f"{name}-manager")
    annotator = make_user(f"{name}-annotator")
    project = services.create_project(actor=manager, name=name, responses_per_item=2,
                                      overlap=1)
    services.set_membership(actor=manager, project=project, user=annotator,
                            role=Membership.Role.ANNOTATOR)
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    result = imports.import_items(actor=manager, project=project, source=io.BytesIO(body),
                                  format=format, labels="imported")
    assert result["created"] == result["imported_labels"] == len(lines)
    strengths = [1, 2, 3, None]
    for n, item in enumerate(Item.objects.filter(project=project).order_by("id")):
        imported = Annotation.objects.get(item=item, source=Annotation.Source.IMPORT)
        Annotation.objects.create(project=project, item=item, annotator=annotator,
                                  ranking=imported.ranking, strength=strengths[n % 4],
                                  duration_ms=5000)
    return project, manager


@pytest.fixture
def standard(make_user):
    lines = standard_lines()
    project, manager = labelled_project(make_user, name="Arithmetic", lines=lines, format="trl")
    return project, manager, lines


@pytest.fixture
def conversational(make_user, hh_rlhf_lines):
    lines = hh_lines(hh_rlhf_lines)
    project, manager = labelled_project(make_user, name="Harmless", lines=lines,
                                        format="hh-rlhf")
    return project, manager, lines


def expected_rows(kind: str, lines: list[dict]) -> list[dict]:
    """What the trl export must say of the imported lines: the same preference, as TRL's
    standard strings or as TRL's conversational message lists."""
    if kind == "standard":
        return [{k: line[k] for k in ("prompt", "chosen", "rejected")} for line in lines]
    out = []
    for line in lines:
        record = parse_hh_rlhf(line)
        out.append({"prompt": record.messages,
                    "chosen": [{"role": "assistant", "content": record.responses[0].text}],
                    "rejected": [{"role": "assistant", "content": record.responses[1].text}]})
    return out


# --- getting the files ------------------------------------------------------------------------

def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def export_file(project, manager, tmp_path, *, compress: bool = False) -> tuple:
    """The trl export over HTTP, written to a file as a download would be."""
    query = "format=trl" + ("&compress=gzip" if compress else "")
    response = client_for(manager).get(f"/api/v1/projects/{project.pk}/export/?{query}")
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content)
    if compress:
        assert response["Content-Type"] == "application/gzip"
        body = gzip.decompress(body)
    else:
        assert response["Content-Type"].startswith("application/x-ndjson")
    path = tmp_path / f"{project.pk}-trl.jsonl"
    path.write_bytes(body)
    return path, [json.loads(line) for line in body.splitlines()]


def snapshot_files(project, manager, tmp_path, django_capture_on_commit_callbacks) -> dict:
    """A snapshot of the trl export built by its Celery task (eager here), its files
    downloaded into one folder under the names the dataset card's configs use."""
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(f"/api/v1/projects/{project.pk}/snapshots/", {"format": "trl"},
                              content_type="application/json")
    assert created.status_code == 202, created.content
    detail = client.get(created.json()["url"]).json()
    assert detail["status"] == "ready", detail
    folder = tmp_path / f"snapshot-{project.pk}"
    folder.mkdir()
    for key, name in (("download_url", "data.jsonl"), ("parquet_url", "data.parquet"),
                      ("card_url", "README.md")):
        response = client.get(detail[key])
        assert response.status_code == 200
        (folder / name).write_bytes(b"".join(response.streaming_content))
    return {"folder": folder, "detail": detail}


def load(kind: str, path, tmp_path):
    return datasets.load_dataset(kind, data_files=str(path), split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))


# --- a tiny model and a tokenizer made here ---------------------------------------------------

def texts_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [m["content"] for m in value]


def local_tokenizer(rows: list[dict]):
    """A word-level tokenizer trained on the exported texts (so nothing is unknown), with
    pad / eos / bos tokens and a chat template for conversational rows."""
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    corpus = [t for row in rows for key in ("prompt", "chosen", "rejected")
              for t in texts_of(row[key])]
    tokenizer.train_from_iterator(corpus,
                                  tokenizers.trainers.WordLevelTrainer(special_tokens=SPECIAL))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>",
                                   eos_token="<eos>", bos_token="<bos>", unk_token="<unk>",
                                   model_max_length=MAX_POSITIONS)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_config(tokenizer, **changes):
    return transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                       max_position_embeddings=MAX_POSITIONS, pad_token_id=tokenizer.pad_token_id,
                       eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                       **changes)


def words(tokenizer, text: str) -> list[str]:
    return [w for w, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def contains(sequence: list, part: list) -> bool:
    return any(sequence[i:i + len(part)] == part for i in range(len(sequence) - len(part) + 1))


def run_dpo(dataset, tokenizer, tmp_path, name: str):
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(tiny_config(tokenizer))
    args = trl.DPOConfig(output_dir=str(tmp_path / f"dpo-{name}"), **TRAINING)
    # The reference is passed, not named: TRL would otherwise try to load it by model id.
    trainer = trl.DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args,
                             train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train()
    return trainer, result


# --- the tests --------------------------------------------------------------------------------

@pytest.fixture(params=["standard", "conversational"])
def kind(request):
    return request.param


@pytest.fixture
def project_of(request, kind):
    return request.getfixturevalue(kind)


def test_load_dataset_json_reads_the_export_as_trl_preference_data(project_of, kind, tmp_path):
    project, manager, lines = project_of
    path, rows = export_file(project, manager, tmp_path)
    ds = load("json", path, tmp_path)

    assert ds.num_rows == len(rows) == N_ITEMS
    assert {"prompt", "chosen", "rejected", "item_id", "agreement", "n_annotations",
            "margin"} <= set(ds.column_names)
    # The preference that went in comes out, in import order, in TRL's layout.
    assert [{k: row[k] for k in ("prompt", "chosen", "rejected")} for row in ds] == (
        expected_rows(kind, lines))
    example = ds[0]
    assert trl.data_utils.is_conversational(example) == (kind == "conversational")
    if kind == "standard":
        for column in ("prompt", "chosen", "rejected"):
            assert ds.features[column] == datasets.Value("string")
    else:
        message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
        for column in ("prompt", "chosen", "rejected"):
            assert ds.features[column] == datasets.List(message)
    # TRL's reward trainer reads `margin` into its loss: a float, never negative.
    assert ds.features["margin"] == datasets.Value("float64")
    assert min(ds["margin"]) >= 0 and len(set(ds["margin"])) > 1
    # The gzip download is the same file.
    _, zipped = export_file(project, manager, tmp_path, compress=True)
    assert zipped == rows


def test_the_parquet_snapshot_loads_as_the_same_rows_and_columns(
    project_of, kind, tmp_path, django_capture_on_commit_callbacks
):
    project, manager, _ = project_of
    _, rows = export_file(project, manager, tmp_path)
    built = snapshot_files(project, manager, tmp_path, django_capture_on_commit_callbacks)
    jsonl = load("json", built["folder"] / "data.jsonl", tmp_path)
    parquet = load("parquet", built["folder"] / "data.parquet", tmp_path)

    assert built["detail"]["rows"] == parquet.num_rows == len(rows)
    assert parquet.to_list() == jsonl.to_list() == [
        {k: row.get(k) for k in jsonl.column_names} for row in rows]
    for column in ("prompt", "chosen", "rejected", "margin"):
        assert parquet.features[column] == jsonl.features[column], column
    assert trl.data_utils.is_conversational(parquet[0]) == (kind == "conversational")
    # The folder is a Hub dataset repository: its card's configs point at the Parquet file.
    repo = datasets.load_dataset(str(built["folder"]), cache_dir=str(tmp_path / "hf-cache"))
    assert list(repo) == ["train"]
    assert repo["train"].to_list() == parquet.to_list()


def test_dpo_trainer_trains_two_steps_on_the_export(
    project_of, kind, tmp_path, django_capture_on_commit_callbacks
):
    project, manager, _ = project_of
    path, rows = export_file(project, manager, tmp_path)
    built = snapshot_files(project, manager, tmp_path, django_capture_on_commit_callbacks)
    tokenizer = local_tokenizer(rows)

    for source, file in (("json", path), ("parquet", built["folder"] / "data.parquet")):
        trainer, result = run_dpo(load(source, file, tmp_path), tokenizer, tmp_path,
                                  f"{kind}-{source}")
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        assert len(losses) == 2 and trainer.state.global_step == 2
        assert all(math.isfinite(loss) for loss in losses) and math.isfinite(result.training_loss)
        assert losses[0] == pytest.approx(math.log(2), abs=1e-4)
        # TRL tokenized what the export says: every row's chosen text is in its chosen ids.
        prepared = trainer.train_dataset
        assert prepared.num_rows == len(rows)
        for row, ids in zip(rows, prepared["chosen_ids"], strict=True):
            tokens = tokenizer.convert_ids_to_tokens(ids)
            assert contains(tokens, words(tokenizer, texts_of(row["chosen"])[-1]))


def test_reward_trainer_reads_chosen_rejected_and_margin(project_of, kind, tmp_path):
    project, manager, _ = project_of
    path, rows = export_file(project, manager, tmp_path)
    tokenizer = local_tokenizer(rows)
    torch.manual_seed(0)
    model = transformers.LlamaForSequenceClassification(tiny_config(tokenizer, num_labels=1))
    args = trl.RewardConfig(output_dir=str(tmp_path / f"reward-{kind}"),
                            **{**TRAINING, "per_device_train_batch_size": 4})
    trainer = trl.RewardTrainer(model=model, args=args, train_dataset=load("json", path, tmp_path),
                                processing_class=tokenizer)

    assert trainer.train_dataset["margin"] == [row["margin"] for row in rows]
    batch = next(iter(trainer.get_train_dataloader()))
    # Chosen and rejected of each example stacked: 2 × batch sequences, one margin each.
    assert batch["input_ids"].shape[0] == 2 * batch["margin"].shape[0] == 8
    assert {round(m, 6) for m in batch["margin"].tolist()} <= {round(row["margin"], 6)
                                                               for row in rows}
    result = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert math.isfinite(result.training_loss)
