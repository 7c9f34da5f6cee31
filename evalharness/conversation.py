"""Multi-turn conversations: one judged unit per user turn, and what the judge sees of it.

A prompt with N user turns becomes N turns. Turn 1 keeps the prompt's id; turn k is
``<id>/turn-k``. Each model answers turn k after its own answers to turns 1..k-1 (its
``history``, kept in the turn's generation record), so the judge of turn k sees the whole
conversation: pointwise, that model's conversation ending in the k-th question; pairwise,
the user's questions, and each model's earlier answers in front of its k-th answer (each
model built its own conversation, as in MT-Bench's multi-turn pairwise judging).

With ``reference_guided``, a turn's reference answer (MT-Bench has them for math, reasoning
and coding) is shown to the judge after the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalharness.prompts import PromptItem
from evalharness.records import GenerationRecord, Message


@dataclass(frozen=True)
class Turn:
    """The k-th user turn (1-based) of a prompt item."""

    item: PromptItem
    number: int = 1

    @property
    def id(self) -> str:
        """The id of this turn's records."""
        return self.item.id if self.number == 1 else f"{self.item.id}/turn-{self.number}"

    @property
    def question(self) -> str:
        """The user's message of this turn."""
        return self.item.turns[self.number - 1] if self.item.turns else self.item.prompt

    @property
    def reference(self) -> str | None:
        """This turn's reference answer, if the prompt set has one."""
        return self.item.reference_for(self.number)

    def previous_id(self, number: int) -> str:
        """The record id of an earlier turn."""
        return Turn(self.item, number).id


def expand(items: Sequence[PromptItem]) -> list[Turn]:
    """Every turn of every item: all first turns, then all second turns, and so on."""
    most = max((item.turn_count for item in items), default=1)
    return [
        Turn(item, number)
        for number in range(1, most + 1)
        for item in items
        if number <= item.turn_count
    ]


def history(turn: Turn, answers: dict[str, GenerationRecord]) -> list[Message] | str:
    """The conversation before ``turn`` with this model's own earlier answers, or the reason it
    cannot be built (an earlier turn missing or failed)."""
    messages: list[Message] = []
    for number in range(1, turn.number):
        record = answers.get(turn.previous_id(number))
        if record is None or record.error:
            return f"turn {number} has no answer to build on"
        messages += [
            {"role": "user", "content": Turn(turn.item, number).question},
            {"role": "assistant", "content": record.output},
        ]
    return messages


def completion_prompt(frame: str, past: Sequence[Message], question: str) -> str:
    """The completion-frame text of a conversation, for models without a chat template."""
    text = ""
    for user, answer in zip(past[::2], past[1::2], strict=True):
        said = answer["content"].strip()
        text += frame.replace("{prompt}", user["content"]) + " " + said + "\n\n"
    return text + frame.replace("{prompt}", question)


def _block(label: str, text: str) -> str:
    return f"[{label}]\n{text}"


def _with_reference(text: str, record: GenerationRecord, reference_guided: bool) -> str:
    if reference_guided and record.reference:
        return text + "\n\n" + _block("Reference answer (for the judge)", record.reference)
    return text


def judged_instruction(record: GenerationRecord, reference_guided: bool = False) -> str:
    """What the judge is told the instruction was, for one model's answer."""
    if not record.history:
        return _with_reference(record.prompt, record, reference_guided)
    parts = [
        "A conversation. Judge the assistant's answer to the last user message, in context.",
        *(_block(m["role"].capitalize(), m["content"]) for m in record.history),
        _block("User (the message answered)", record.prompt),
    ]
    return _with_reference("\n\n".join(parts), record, reference_guided)


def pair_view(
    x: GenerationRecord, y: GenerationRecord, reference_guided: bool = False
) -> tuple[str, str, str]:
    """(instruction, text of X, text of Y) for judging X against Y on the same turn."""
    if not x.history and not y.history:
        return judged_instruction(x, reference_guided), x.output, y.output
    questions = [m["content"] for m in x.history or [] if m["role"] == "user"]
    parts = [
        "A conversation of several turns. Each assistant answered the earlier questions in its "
        "own way (shown at the start of its response). Judge the answers to the last question.",
        *(_block(f"User, turn {n}", q) for n, q in enumerate(questions, start=1)),
        _block(f"User, turn {len(questions) + 1} (the question judged)", x.prompt),
    ]
    instruction = _with_reference("\n\n".join(parts), x, reference_guided)
    return instruction, _answers(x), _answers(y)


def _answers(record: GenerationRecord) -> str:
    earlier = [m["content"] for m in record.history or [] if m["role"] == "assistant"]
    blocks = [_block(f"Answer to turn {n}", a) for n, a in enumerate(earlier, start=1)]
    blocks.append(_block(f"Answer to turn {len(earlier) + 1} (judged)", record.output))
    return "\n\n".join(blocks)
