"""Models and tokenizers: GPT-2 built from a preset with the workspace tokenizer, or
pretrained weights (SmolLM2 from its package, any local directory) with their own tokenizer,
the workspace's structural tokens added to it, fully or with LoRA adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gitlm.config import TrainConfig
from gitlm.errors import BadInputError
from gitlm.train.presets import ModelPreset


def quiet_transformers() -> None:
    """No download/shard progress bars or advisory warnings in gitlm's output."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("peft").setLevel(logging.ERROR)


def load_tokenizer(path: Path, what: str):
    from transformers import AutoTokenizer

    files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if not any((Path(path) / name).is_file() for name in files):
        raise BadInputError(f"{path} has no {what} tokenizer ({' or '.join(files[:2])}); save one there with save_pretrained")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError) as exc:
        raise BadInputError(f"cannot load the {what} tokenizer from {path}: {_first_line(exc)}") from None
    if tokenizer.eos_token_id is None:
        raise BadInputError(f"the {what} tokenizer in {path} has no eos token (the document separator)")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked by position, so sharing the id is safe
    return tokenizer


def structural_tokens(workspace_tokenizer) -> list[str]:
    """The workspace tokenizer's special tokens other than eos/pad/bos/unk: gitlm's markers."""
    skip = {workspace_tokenizer.eos_token, workspace_tokenizer.pad_token, workspace_tokenizer.bos_token,
            workspace_tokenizer.unk_token}
    tokens = [t.content for _, t in sorted(workspace_tokenizer.added_tokens_decoder.items()) if t.special]
    return [t for t in tokens if t not in skip]


def same_vocabulary(a, b) -> bool:
    return a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()


@dataclass
class LoadedModel:
    model: torch.nn.Module  # a transformers causal LM, or a peft wrapper around one
    tokenizer: Any
    preset: ModelPreset
    source: str  # "scratch" or the directory the weights came from
    uses_workspace_tokenizer: bool
    added_tokens: list[str] = field(default_factory=list)
    lora: bool = False

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @property
    def max_positions(self) -> int:
        config = self.base_model.config
        return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", 0) or 1 << 30)

    @property
    def base_model(self) -> torch.nn.Module:
        return self.model.get_base_model() if self.lora else self.model

    def describe(self) -> dict[str, Any]:
        config = self.base_model.config
        return {
            "preset": self.preset.name, "source": self.source, "architecture": config.model_type,
            "parameters": self.parameters, "trainable_parameters": self.trainable_parameters,
            "vocab_size": int(config.vocab_size), "context_length": self.max_positions,
            "lora": self.lora, "added_tokens": len(self.added_tokens),
            "uses_workspace_tokenizer": self.uses_workspace_tokenizer,
        }


def build_scratch(preset: ModelPreset, tokenizer, sequence_length: int, seed: int) -> LoadedModel:
    """A GPT-2 of the preset's size over the workspace vocabulary, freshly initialised."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=max(preset.n_positions, sequence_length),
        n_embd=preset.n_embd, n_layer=preset.n_layer, n_head=preset.n_head,
        resid_pdrop=preset.dropout, embd_pdrop=preset.dropout, attn_pdrop=preset.dropout,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    return LoadedModel(model, tokenizer, preset, "scratch", uses_workspace_tokenizer=True)


def pretrained_directory(preset: ModelPreset) -> Path:
    if preset.source == "smollm2":
        from gitlm.train.smollm2 import ensure_converted

        return ensure_converted()
    return Path(preset.source)


def load_pretrained(preset: ModelPreset, workspace_tokenizer, config: TrainConfig, *, gpu: bool) -> LoadedModel:
    """Pretrained weights and their tokenizer, the structural tokens added (embeddings
    resized), optionally quantized (bitsandbytes on a GPU) and wrapped with LoRA."""
    from transformers import AutoModelForCausalLM

    directory = pretrained_directory(preset)
    tokenizer = load_tokenizer(directory, "model's")
    uses_workspace = same_vocabulary(tokenizer, workspace_tokenizer)
    added: list[str] = []
    if not uses_workspace:
        vocabulary = tokenizer.get_vocab()
        added = [t for t in structural_tokens(workspace_tokenizer) if t not in vocabulary]
        if added:
            tokenizer.add_tokens(added, special_tokens=True)
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if config.quantize != "none":
        kwargs.update(quantization_config=_bitsandbytes_config(config.quantize, gpu), device_map={"": 0})
    try:
        model = AutoModelForCausalLM.from_pretrained(str(directory), **kwargs)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise BadInputError(f"{directory} is not a causal language model transformers can load: {_first_line(exc)}") from None
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))  # new rows start at the mean embedding
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    loaded = LoadedModel(model, tokenizer, preset, str(directory), uses_workspace, added)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.lora or config.quantize != "none":
        loaded.model = _with_lora(model, tokenizer, added, config)
        loaded.lora = True
    return loaded


def _with_lora(model, tokenizer, added: list[str], config: TrainConfig):
    """LoRA adapters on the attention/MLP projections (peft's per-architecture default, else
    every linear layer); the rows of newly added tokens train as well, nothing else does."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

    if config.quantize != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    known = model.config.model_type in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, task_type="CAUSAL_LM",
        target_modules=None if known else "all-linear",
        trainable_token_indices=tokenizer.convert_tokens_to_ids(added) if added else None,
    )
    return get_peft_model(model, lora)


def _bitsandbytes_config(mode: str, gpu: bool):
    import importlib.util

    if not gpu or importlib.util.find_spec("bitsandbytes") is None:
        raise BadInputError(f"--quantize {mode} needs a CUDA GPU and the bitsandbytes package (pip install bitsandbytes)")
    from transformers import BitsAndBytesConfig

    if mode == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                              bnb_4bit_use_double_quant=True)


def export_model(loaded: LoadedModel) -> torch.nn.Module:
    """The model to save_pretrained: LoRA adapters merged into a plain transformers model, so
    model/ loads with AutoModelForCausalLM alone."""
    model = loaded.model
    if loaded.lora:
        model = model.merge_and_unload()
    model.config.use_cache = True
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(": ") if text else type(exc).__name__
