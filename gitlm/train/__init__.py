"""Phase 6: train or fine-tune a causal LM on a workspace's tokens, report, generate.

    from gitlm.train import train, generate
    result = train("gitlm-out/flask")              # config: GitlmConfig(train=TrainConfig(...))
    print(result.final["val_perplexity"])
    print(generate("<COMMIT>", workspace="gitlm-out/flask")[0].completion)

Heavy imports (torch, lightning, transformers) load on first use, so `import gitlm.train`
and the CLI's argument checks stay fast.
"""

from gitlm.train.presets import PRESETS, ModelPreset, resolve_model

__all__ = ["PRESETS", "ModelPreset", "Generation", "TrainResult", "generate", "resolve_model", "train"]


def __getattr__(name: str):
    if name in ("train", "TrainResult", "TrainingInterrupted"):
        from gitlm.train import training

        return getattr(training, name)
    if name in ("generate", "Generation"):
        from gitlm.train import generation as module

        return getattr(module, name)
    raise AttributeError(name)
