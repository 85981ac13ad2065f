"""A PyTorch Lightning callback that runs `embnorm.monitor.NormMonitor` (the embedding-norm instruments of Draganov
et al., ICML 2025, Sections 3 and 5, and RankMe of Garrido et al. 2023) every N epochs and logs its numbers through
the trainer's loggers.

Lightning is an optional extra: `pip install embnorm[lightning]` installs `pytorch-lightning`. The callback subclasses
the `Callback` of `pytorch_lightning` when that is installed, else that of `lightning.pytorch` (the unified `lightning`
package); use it with the Trainer of the same package.
"""

from __future__ import annotations

from collections.abc import Callable

from embnorm.monitor import NormMonitor

try:
    import pytorch_lightning as pl
except ImportError:  # the unified `lightning` package
    try:
        import lightning.pytorch as pl
    except ImportError as error:
        raise ImportError("embnorm.integrations.lightning needs PyTorch Lightning: pip install embnorm[lightning]") \
            from error

__all__ = ["NormMonitorCallback"]


class NormMonitorCallback(pl.Callback):
    """Runs `monitor` (a `NormMonitor`) on the LightningModule before training (epoch 0) and after every
    `monitor.every`-th epoch (epoch k = after k epochs), on global rank 0, and logs its row through every logger of the
    trainer at the current global step, each key prefixed with `prefix`. Rows are also kept in `history`.

    `embedder(pl_module)` picks what to monitor (default: the module itself, whose forward must return the embeddings
    or a mapping of named embeddings); for example `embedder=lambda m: m.backbone`.

    Draganov et al. (ICML 2025): norms grow during training (Section 3) and track OOD-ness (Section 5, Fig. 3); see
    docs/monitor.md for what each logged number means.

    >>> import torch
    >>> from embnorm.monitor import NormMonitor
    >>> class Tiny(pl.LightningModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.net = torch.nn.Linear(8, 4)
    ...     def forward(self, x):
    ...         return self.net(x)
    ...     def training_step(self, batch, batch_idx):
    ...         return -self(batch[0]).norm(dim=1).mean()
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.1)
    >>> loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 8)), batch_size=8)
    >>> callback = NormMonitorCallback(NormMonitor(torch.randn(64, 8), every=2))
    >>> trainer = pl.Trainer(max_epochs=4, callbacks=[callback], logger=False, enable_checkpointing=False,
    ...                      enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    >>> trainer.fit(Tiny(), loader)
    >>> [row["epoch"] for row in callback.history]
    [0, 2, 4]
    >>> callback.history[-1]["z_norm_mean"] > callback.history[0]["z_norm_mean"]   # this loss grows the norms
    True
    """

    def __init__(self, monitor: NormMonitor, embedder: Callable | None = None, prefix: str = "norms/"):
        super().__init__()
        self.monitor, self.embedder, self.prefix = monitor, embedder, prefix
        self.history: list[dict[str, float]] = []

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        if not trainer.is_global_zero or not self.monitor.due(epoch):
            return
        model = self.embedder(pl_module) if self.embedder is not None else pl_module
        row = self.monitor(model, epoch=epoch)
        self.history.append(row)
        metrics = {f"{self.prefix}{k}": v for k, v in row.items() if k != "epoch"}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 0:  # not when resuming from a checkpoint
            self._run(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._run(trainer, pl_module, trainer.current_epoch + 1)
