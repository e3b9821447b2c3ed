"""One test per kind of bad line, through the REST API: a good line 1, the bad line 3 (after
a blank line 2, which is skipped but counted), and the answer names line 3 and says why."""

from __future__ import annotations

import pytest

from .conftest import counts, jsonl

GOOD = {
    "native": {"prompt": "Name a prime.", "responses": ["7", "9"]},
    "hh-rlhf": {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected":
                "\n\nHuman: Hi\n\nAssistant: Bye"},
    "trl": {"prompt": "The sky is", "chosen": "blue", "rejected": "green"},
}
USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}

CASES = [
    # Any format: the line itself.
    ("native", '{"prompt": "x", "responses": ["a", "b"]', "Invalid JSON: Expecting ',' "
                                                          "delimiter: column 40."),
    ("native", '{"prompt": NaN, "responses": ["a", "b"]}', "Invalid JSON: NaN is not valid JSON."),
    ("native", b'{"prompt": "caf\xe9", "responses": ["a", "b"]}',
     "The line is not valid UTF-8 (byte 16)."),
    ("native", '{"prompt": "a\\u0000b", "responses": ["a", "b"]}',
     "The line contains a NUL character (\\u0000), which cannot be stored."),
    ("native", '{"prompt": "\\ud800", "responses": ["a", "b"]}',
     "The line contains an unpaired surrogate escape (\\ud800-\\udfff), which is not valid "
     "Unicode."),
    ("native", '["prompt", "responses"]', "A line must be a JSON object, not a list."),
    # native
    ("native", {"prompt": "p", "responses": ["a", "b"], "respones": 1},
     "Unknown field 'respones'; extra data belongs under meta."),
    ("native", {"chosen": "a", "rejected": "b"},
     "Unknown field 'chosen'; extra data belongs under meta. This looks like a preference "
     "pair: import it with format hh-rlhf or trl."),
    ("native", {"prompt": "p", "messages": [USER], "responses": ["a", "b"]},
     "A line needs exactly one of prompt and messages."),
    ("native", {"responses": ["a", "b"]}, "A line needs exactly one of prompt and messages."),
    ("native", {"prompt": 3, "responses": ["a", "b"]}, "prompt must be a string, not a number."),
    ("native", {"prompt": "  ", "responses": ["a", "b"]}, "prompt is empty."),
    ("native", {"messages": "Hi", "responses": ["a", "b"]},
     "messages must be a list of messages, not a string."),
    ("native", {"messages": [], "responses": ["a", "b"]}, "messages is empty."),
    ("native", {"messages": ["Hi"], "responses": ["a", "b"]},
     "messages[0] must be an object with role and content, not a string."),
    ("native", {"messages": [{"role": "user", "content": "Hi", "name": "x"}],
                "responses": ["a", "b"]},
     "messages[0] has unknown field 'name'; a message has role and content."),
    ("native", {"messages": [{"role": "human", "content": "Hi"}], "responses": ["a", "b"]},
     "messages[0].role must be one of system, user, assistant, not 'human'."),
    ("native", {"messages": [{"role": "user", "content": ["Hi"]}], "responses": ["a", "b"]},
     "messages[0].content must be a string, not a list."),
    ("native", {"prompt": "p"}, "responses is missing."),
    ("native", {"prompt": "p", "responses": "a"}, "responses must be a list, not a string."),
    ("native", {"prompt": "p", "responses": ["a", "b", "c"]},
     "Expected 2 responses (the project's K), got 3."),
    ("native", {"prompt": "p", "responses": ["a", 2]},
     "responses[1] must be a string or an object with text, not a number."),
    ("native", {"prompt": "p", "responses": ["a", {"model": "m"}]}, "responses[1].text is missing."),
    ("native", {"prompt": "p", "responses": ["a", {"text": None}]},
     "responses[1].text must be a string, not null."),
    ("native", {"prompt": "p", "responses": ["a", {"text": "b", "score": 1}]},
     "responses[1] has unknown field 'score'; a response has text, model and id."),
    # Empty responses are data, but two of them in one line are two responses alike.
    ("native", {"prompt": "p", "responses": ["", ""]},
     "responses[1] has the same text as responses[0]."),
    ("native", {"prompt": "p", "responses": ["a", "a"]},
     "responses[1] has the same text as responses[0]."),
    ("native", {"prompt": "p", "responses": ["a", {"text": "b", "model": "m" * 201}]},
     "responses[1].model is longer than 200 characters."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "meta": [1]},
     "meta must be an object, not a list."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": [[0], [1]]},
     'gold must be an object {"ranking": [[position, ...], ...]}.'),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": {"ranking": [[0], [2]]}},
     "gold.ranking: position 2 is out of range 0..1."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": {"ranking": [[0], [0]]}},
     "gold.ranking: position 0 appears twice."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": {"ranking": [[1]]}},
     "gold.ranking must rank every response; missing position 0."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": {"ranking": [[0], []]}},
     "gold.ranking: every tier must be a non-empty list of positions."),
    ("native", {"prompt": "p", "responses": ["a", "b"], "gold": {"ranking": [[True], [1]]}},
     "gold.ranking: positions are integers, not a boolean."),
    # hh-rlhf
    ("hh-rlhf", {"chosen": "\n\nHuman: Hi\n\nAssistant: a"}, "rejected is missing."),
    ("hh-rlhf", {"chosen": 1, "rejected": "x"},
     "chosen must be a transcript string, not a number."),
    ("hh-rlhf", {"chosen": "\n\nHuman: A\n\nAssistant: a",
                 "rejected": "\n\nHuman: B\n\nAssistant: b"},
     "chosen and rejected share no prompt ending in '\\n\\nAssistant:'; cannot tell the "
     "prompt from the responses."),
    ("hh-rlhf", {"chosen": "Hi!\n\nAssistant: a", "rejected": "Hi!\n\nAssistant: b"},
     "The transcript must start with a 'Human:' turn."),
    ("hh-rlhf", {"chosen": "\n\nAssistant: a", "rejected": "\n\nAssistant: b"},
     "The shared prompt has no 'Human:' turn."),
    # trl
    ("trl", {"prompt": "p", "chosen": "a"}, "rejected is missing."),
    ("trl", {"prompt": "p", "chosen": [ASSISTANT], "rejected": "b"},
     "prompt, chosen and rejected must all be strings (standard) or all be lists of messages "
     "(conversational)."),
    ("trl", {"chosen": "a", "rejected": "b"},
     "prompt is missing; the implicit-prompt form needs chosen and rejected as lists of "
     "messages."),
    ("trl", {"prompt": "", "chosen": "a", "rejected": "b"}, "prompt is empty."),
    ("trl", {"prompt": [], "chosen": [ASSISTANT], "rejected": [ASSISTANT]}, "prompt is empty."),
    ("trl", {"prompt": [USER], "chosen": [{"role": "user", "content": "x"}],
             "rejected": [ASSISTANT]},
     "chosen must end in exactly one assistant message after the prompt it shares with the "
     "other side."),
    ("trl", {"prompt": [USER], "chosen": [ASSISTANT],
             "rejected": [ASSISTANT, USER, ASSISTANT]},
     "rejected must end in exactly one assistant message after the prompt it shares with "
     "the other side."),
    ("trl", {"chosen": [ASSISTANT], "rejected": [{"role": "assistant", "content": "Bye"}]},
     "There is no prompt: chosen and rejected share no messages."),
    ("trl", {"prompt": [{"role": "robot", "content": "x"}], "chosen": [ASSISTANT],
             "rejected": [ASSISTANT]},
     "prompt[0].role must be one of system, user, assistant, not 'robot'."),
]


@pytest.mark.parametrize("format,bad,message", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_line_is_named_with_its_message(project_with_roles, post_import, format, bad,
                                            message):
    project, _ = project_with_roles
    bad_line = bad.decode("latin-1") if isinstance(bad, bytes) else bad
    body = jsonl(GOOD[format], "", bad_line) if not isinstance(bad, bytes) else (
        jsonl(GOOD[format], "") + bad + b"\n"
    )
    before = counts(project)
    response = post_import(project, body, format=format)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "1 line is invalid; nothing was imported.",
        "errors": [{"line": 3, "message": message}],
    }
    assert counts(project) == before
