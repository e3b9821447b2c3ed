"""PolicyConfig's strict keys and validation, PARAMETERS, and split_by_item."""

from __future__ import annotations

import dataclasses
import json

import pytest

from training.policy import PARAMETERS, PolicyConfig, PreferencePair, split_by_item


def test_from_dict_rejects_unknown_keys_by_name():
    with pytest.raises(ValueError, match="bta") as info:
        PolicyConfig.from_dict({"beta": 0.2, "bta": 0.1, "lerning_rate": 1})
    assert "lerning_rate" in str(info.value)


def test_round_trip_through_json():
    config = PolicyConfig(beta=0.3, loss_type="ipo", max_steps=7, device="cpu")
    assert PolicyConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_parameters_are_the_field_names():
    assert PARAMETERS == tuple(f.name for f in dataclasses.fields(PolicyConfig))
    assert {"backbone", "lora", "loss_type", "beta", "label_smoothing", "seed", "device",
            "eval_fraction", "lora_r", "lora_alpha"} <= set(PARAMETERS)


@pytest.mark.parametrize(
    ("bad", "word"),
    [
        ({"loss_type": "kto"}, "loss_type"),
        ({"beta": 0}, "beta"),
        ({"loss_type": "robust", "label_smoothing": 0.5}, "label_smoothing"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"lora": True}, "lora"),  # the tiny backbone has no LoRA
    ],
)
def test_invalid_values_are_refused(bad, word):
    with pytest.raises(ValueError, match=word):
        PolicyConfig.from_dict(bad)


def pairs_of(items: list[int], per_item: int = 2) -> list[PreferencePair]:
    return [PreferencePair(item_id=i, prompt=f"p{i}", chosen=f"c{i}{k}", rejected=f"r{i}{k}")
            for i in items for k in range(per_item)]


def test_split_keeps_items_whole_and_is_deterministic():
    pairs = pairs_of(list(range(30)))
    train, held = split_by_item(pairs, eval_fraction=0.2, seed=3)
    assert {p.item_id for p in train}.isdisjoint({p.item_id for p in held})
    assert len(train) + len(held) == len(pairs)
    assert len({p.item_id for p in held}) == 6
    assert split_by_item(pairs, eval_fraction=0.2, seed=3) == (train, held)
    assert split_by_item(pairs, eval_fraction=0.2, seed=4) != (train, held)


def test_split_holds_out_one_item_of_two():
    train, held = split_by_item(pairs_of([7, 8]), eval_fraction=0.01)
    assert len({p.item_id for p in held}) == 1 and len({p.item_id for p in train}) == 1
    assert split_by_item(pairs_of([7]), eval_fraction=0.5) == (pairs_of([7]), [])
