"""The parsers, line by line, without Django: what each format turns into."""

from __future__ import annotations

import pytest

from annotation.imports import formats
from annotation.imports.formats import (
    LineError,
    content_hash,
    parse_hh_rlhf,
    parse_native,
    parse_trl,
)


def texts(record):
    return [response.text for response in record.responses]


# --- native ------------------------------------------------------------------------------

def test_native_prompt_with_plain_and_detailed_responses():
    record = parse_native({
        "prompt": "Name a prime.",
        "responses": ["7", {"text": "9", "model": "small-lm", "id": 42}],
        "meta": {"source": "unit"},
    }, k=2)
    assert record.prompt == "Name a prime." and record.messages is None
    assert texts(record) == ["7", "9"]
    assert (record.responses[1].model, record.responses[1].external_id) == ("small-lm", "42")
    assert record.meta == {"source": "unit"}
    assert record.gold is None and record.preference is None


def test_native_messages_roles_are_case_insensitive_and_stored_lower_case():
    record = parse_native({
        "messages": [{"role": "System", "content": "Be brief."},
                     {"role": "USER", "content": "Hi"}],
        "responses": ["Hello", "Hey", "Yo"],
    }, k=3)
    assert record.prompt is None
    assert record.messages == [{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hi"}]


def test_native_gold_ranking_keeps_tiers():
    record = parse_native({"prompt": "p", "responses": ["a", "b", "c"],
                           "gold": {"ranking": [[2], [0, 1]]}}, k=3)
    assert record.gold == [[2], [0, 1]]


# --- hh-rlhf -----------------------------------------------------------------------------

def test_hh_rlhf_single_turn():
    record = parse_hh_rlhf({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
                            "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."})
    assert record.messages == [{"role": "user", "content": "Hi"}]
    assert texts(record) == ["Hello!", "Go away."]
    assert record.preference == [[0], [1]]
    assert record.meta == {}


def test_hh_rlhf_multi_turn_becomes_a_conversation():
    prefix = ("\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?"
              "\n\nAssistant:")
    record = parse_hh_rlhf({"chosen": prefix + " 6.", "rejected": prefix + " 7."})
    assert record.messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert texts(record) == ["6.", "7."]


def test_hh_rlhf_empty_response_is_kept():
    # As in the published harmless-base test split (e.g. its line 87).
    record = parse_hh_rlhf({"chosen": "\n\nHuman: Address?\n\nAssistant: ",
                            "rejected": "\n\nHuman: Address?\n\nAssistant: It is ..."})
    assert texts(record) == ["", "It is ..."]


def test_hh_rlhf_identical_sides_are_a_tie():
    line = "\n\nHuman: Hi\n\nAssistant: Hello"
    record = parse_hh_rlhf({"chosen": line, "rejected": line})
    assert texts(record) == ["Hello", "Hello"]
    assert record.preference == [[0, 1]]


def test_hh_rlhf_split_at_the_last_shared_assistant_marker():
    # The sides diverge right after an Assistant marker, and chosen goes on with turns of
    # its own (as in lines 1255 and 1953 of the published test split).
    shared = "\n\nHuman: Serial?\n\nAssistant: Haha.\n\nHuman: Please.\n\nAssistant:"
    chosen = shared + " Here:\n\nAssistant:  O.k. let us try."
    rejected = shared + " You mean a password?"
    record = parse_hh_rlhf({"chosen": chosen, "rejected": rejected})
    assert record.messages[-1] == {"role": "user", "content": "Please."}
    assert texts(record) == ["Here:\n\nAssistant:  O.k. let us try.", "You mean a password?"]


def test_hh_rlhf_without_a_shared_assistant_marker_cannot_be_split():
    with pytest.raises(LineError, match="share no prompt ending in"):
        parse_hh_rlhf({"chosen": "\n\nHuman: A\n\nAssistant: x",
                       "rejected": "\n\nHuman: B\n\nAssistant: y"})


@pytest.mark.parametrize("chosen,rejected", [
    # No newlines before the first turn, as hand-written files often have.
    ("Human: Hi\n\nAssistant: Hello", "Human: Hi\n\nAssistant: Bye"),
    # Two spaces after a marker, none after the last one, a trailing space in a turn.
    ("\n\nHuman:  Hi \n\nAssistant:Hello", "\n\nHuman:  Hi \n\nAssistant:\nBye"),
])
def test_hh_rlhf_transcripts_come_back_byte_for_byte(chosen, rejected):
    record = parse_hh_rlhf({"chosen": chosen, "rejected": rejected})
    again = [
        formats.hh_rlhf_transcript(messages=record.messages, response=response.text,
                                   position=position, meta=record.meta)
        for position, response in enumerate(record.responses)
    ]
    assert again == [chosen, rejected]
    assert "hh_rlhf" in record.meta


def test_hh_rlhf_other_keys_go_to_meta():
    record = parse_hh_rlhf({"chosen": "\n\nHuman: a\n\nAssistant: b",
                            "rejected": "\n\nHuman: a\n\nAssistant: c", "id": "x-1"})
    assert record.meta == {"id": "x-1"}


def test_hh_rlhf_real_file_round_trips_exactly(hh_rlhf_lines):
    assert len(hh_rlhf_lines) == 2312
    multi_turn = 0
    for line in hh_rlhf_lines:
        record = parse_hh_rlhf(line)
        multi_turn += len(record.messages) > 1
        for position, key in enumerate(("chosen", "rejected")):
            transcript = formats.hh_rlhf_transcript(
                messages=record.messages, response=record.responses[position].text,
                position=position, meta=record.meta,
            )
            assert transcript == line[key]
    assert multi_turn > 1000  # most of the split is multi-turn: messages, not one string


# --- trl ---------------------------------------------------------------------------------

def test_trl_standard():
    record = parse_trl({"prompt": "The sky is", "chosen": " blue.", "rejected": " green.",
                        "score_chosen": 9})
    assert record.prompt == "The sky is" and record.messages is None
    assert texts(record) == [" blue.", " green."]
    assert record.preference == [[0], [1]]
    assert record.meta == {"score_chosen": 9}


def test_trl_conversational():
    record = parse_trl({
        "prompt": [{"role": "user", "content": "What color is the sky?"}],
        "chosen": [{"role": "assistant", "content": "Blue."}],
        "rejected": [{"role": "assistant", "content": "Green."}],
    })
    assert record.messages == [{"role": "user", "content": "What color is the sky?"}]
    assert texts(record) == ["Blue.", "Green."]


def test_trl_implicit_prompt():
    def conversation(answer):
        return [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Hm."},
                {"role": "user", "content": "Color?"}, {"role": "assistant", "content": answer}]

    record = parse_trl({"chosen": conversation("Blue."), "rejected": conversation("Green.")})
    assert [m["content"] for m in record.messages] == ["Sky?", "Hm.", "Color?"]
    assert texts(record) == ["Blue.", "Green."]


def test_trl_shared_turns_in_chosen_and_rejected_join_the_prompt():
    turn = {"role": "user", "content": "More?"}
    record = parse_trl({
        "prompt": [{"role": "user", "content": "Hi"}],
        "chosen": [{"role": "assistant", "content": "Hello"}, turn,
                   {"role": "assistant", "content": "Yes."}],
        "rejected": [{"role": "assistant", "content": "Hello"}, turn,
                     {"role": "assistant", "content": "No."}],
    })
    assert [m["content"] for m in record.messages] == ["Hi", "Hello", "More?"]
    assert texts(record) == ["Yes.", "No."]


# --- content hash ------------------------------------------------------------------------

def test_content_hash_ignores_response_order_but_not_content():
    a = content_hash(prompt="p", messages=None, responses=["x", "y"])
    assert a == content_hash(prompt="p", messages=None, responses=["y", "x"])
    assert a != content_hash(prompt="p", messages=None, responses=["x", "z"])
    assert a != content_hash(prompt="q", messages=None, responses=["x", "y"])
    assert a != content_hash(prompt=None, messages=[{"role": "user", "content": "p"}],
                             responses=["x", "y"])


def test_every_format_has_a_parser_and_known_k():
    assert set(formats.PARSERS) == {"native", "hh-rlhf", "trl", "prompts"}
    assert formats.FIXED_K == {"hh-rlhf": 2, "trl": 2}
