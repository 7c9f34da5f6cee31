"""Tiny real transformers models built from code (no download) for the backend tests.

A byte-level BPE tokenizer is trained on a small in-code corpus; the digits "1".."5" and the
letters "A"/"B" are single tokens, and so are their leading-space forms (" 3", " A"), so that
both tokenizations of a verdict after "Score:" can be tested. The model is a 2-layer Llama
with random weights (seeded): its outputs are meaningless but deterministic.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<pad>"
SYSTEM_DEFAULT = "You are a tiny test model."

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\n" + SYSTEM_DEFAULT + "<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SINGLE_TOKENS = ("1", "2", "3", "4", "5", "A", "B")
"""Strings that must be one token both bare and with a leading space."""

_VOCABULARY = (
    "the answer response question score model judge time clock river city number letter "
    "short long clear helpful honest correct wrong better worse first second because "
    "please tell me what is a an of to in and or it this that you can will"
)


def corpus(n: int = 400, seed: int = 0, spaced_digits: bool = True) -> list[str]:
    """A few hundred sentences with words, digits and the letters A/B after colons.

    Without ``spaced_digits`` no digit ever follows a space, so " 3" stays two tokens.
    """
    rng = random.Random(seed)
    words_list = _VOCABULARY.split()
    lines = []
    for i in range(n):
        words = " ".join(rng.choice(words_list) for _ in range(rng.randint(4, 12)))
        digit = str(rng.randint(1, 5))
        letter = rng.choice("AB")
        lines.append(f"{words.capitalize()}. Score: {digit}")
        lines.append(f"Better response: {letter}. Answer {letter} or {digit} {i % 100}")
        lines.append(f"Question: {words}?\nAnswer: {rng.randint(0, 999)}")
    if not spaced_digits:
        lines = [re.sub(r" (?=\d)", "", line) for line in lines]
    return lines


def train_tokenizer(vocab_size: int = 600, spaced_digits: bool = True) -> Tokenizer:
    """A byte-level BPE tokenizer with the ChatML special tokens and a pad token."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(spaced_digits=spaced_digits), trainer=trainer)
    return tokenizer


def build_tokenizer(chat: bool = True, spaced_digits: bool = True) -> Any:
    """The trained tokenizer wrapped for transformers (ChatML template when ``chat``).

    With ``spaced_digits`` " 3" is one token; without it, two (a space, then "3").
    """
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(spaced_digits=spaced_digits),
        eos_token=IM_END,
        pad_token=PAD,
        bos_token=None,
        unk_token=None,
    )
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    for text in SINGLE_TOKENS:
        for form in (text, " " + text):
            ids = tok(form, add_special_tokens=False)["input_ids"]
            want = 2 if form[0] == " " and form[1:].isdigit() and not spaced_digits else 1
            if len(ids) != want:
                raise AssertionError(
                    f"{form!r} is not {want} token(s) of the tiny tokenizer: {ids}"
                )
    return tok


def build_model(
    directory: Path, chat: bool = True, seed: int = 0, spaced_digits: bool = True
) -> Path:
    """Write a tiny random Llama and its tokenizer to ``directory``; returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer(chat, spaced_digits)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        initializer_range=0.2,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = None
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory
