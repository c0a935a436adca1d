"""Shared fixtures for aiml_notebooks tests: a tiny real Lightning run and one live Jupyter kernel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

TinyFit = Callable[..., tuple[Any, Any]]


@pytest.fixture
def tiny_fit(tmp_path: Path) -> TinyFit:
    """Train a 4-feature linear classifier on 32 random samples; return (trainer, logger)."""

    def fit(*, callbacks: Sequence[Any] = (), max_epochs: int = 2, lr: float = 0.1) -> tuple[Any, Any]:
        import lightning as L
        import torch
        from lightning.pytorch.loggers import CSVLogger
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset

        class Tiny(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def _step(self, batch: Any, split: str) -> torch.Tensor:
                x, y = batch
                logits = self.fc(x)
                loss = nn.functional.cross_entropy(logits, y)
                self.log(f"{split}_loss", loss)
                self.log(f"{split}_acc", (logits.argmax(1) == y).float().mean())
                return loss

            def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
                return self._step(batch, "train")

            def validation_step(self, batch: Any, batch_idx: int) -> None:
                self._step(batch, "val")

            def configure_optimizers(self) -> torch.optim.Optimizer:
                return torch.optim.SGD(self.parameters(), lr=lr)

        torch.manual_seed(0)
        x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
        train = DataLoader(TensorDataset(x, y), batch_size=8)  # 4 steps per epoch
        val = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8)
        logger = CSVLogger(tmp_path)
        trainer = L.Trainer(
            max_epochs=max_epochs,
            accelerator="cpu",
            callbacks=list(callbacks),
            logger=logger,
            log_every_n_steps=1,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(Tiny(), train, val)
        return trainer, logger

    return fit


# One kernel for every live-notebook test: a kernel start costs seconds.
LIVE_CELLS = {
    "env": "from aiml_notebooks.environment import in_live_notebook\nprint(in_live_notebook())",
    "plot": (
        "import pandas as pd\n"
        "from aiml_notebooks.plotting import plot_training_curves\n"
        "df = pd.DataFrame({'epoch': [0, 0, 1, 1], 'train_loss': [1.0, None, 0.5, None],\n"
        "                   'val_loss': [None, 0.9, None, 0.7]})\n"
        "plot_training_curves(df)"
    ),
    # Once pyplot is imported the inline backend registers its own Figure formatter: still one image.
    "plot_after_pyplot": "import matplotlib.pyplot as plt\nfig = plot_training_curves(df)\nfig",
    "fit": (
        "import lightning as L, torch\n"
        "from torch import nn\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from aiml_notebooks.callbacks import LiveLossPlot\n"
        "class Tiny(L.LightningModule):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.fc = nn.Linear(4, 2)\n"
        "    def training_step(self, batch, i):\n"
        "        return nn.functional.cross_entropy(self.fc(batch[0]), batch[1])\n"
        "    def validation_step(self, batch, i):\n"
        "        self.log('val_loss', nn.functional.cross_entropy(self.fc(batch[0]), batch[1]))\n"
        "    def configure_optimizers(self):\n"
        "        return torch.optim.SGD(self.parameters(), lr=0.5)\n"
        "torch.manual_seed(0)\n"
        "data = DataLoader(TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,))), batch_size=8)\n"
        "live = LiveLossPlot()\n"
        "L.Trainer(max_epochs=3, accelerator='cpu', logger=False, callbacks=[live],\n"
        "          enable_checkpointing=False, enable_progress_bar=False,\n"
        "          enable_model_summary=False).fit(Tiny(), data, data)"
    ),
    "final": (
        "import base64\n"
        "print(len(live.history['epoch']), base64.b64encode(live.plot().to_png()).decode())"
    ),
}


@pytest.fixture(scope="session")
def live_kernel_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Run LIVE_CELLS in a real ipykernel; return each cell's outputs."""
    pytest.importorskip("nbclient", reason="nbclient runs the live-kernel tests")
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in LIVE_CELLS.values()]
    class FrontendClient(NotebookClient):
        """Asks like JupyterLab does (allow_stdin=True): to the kernel, a person sits at a frontend.

        Plain nbclient sends allow_stdin=False, which in_live_notebook() treats as a batch run (headless).
        """

        async def async_start_new_kernel_client(self) -> Any:
            client = await super().async_start_new_kernel_client()
            client.allow_stdin = True
            return client

    workdir = tmp_path_factory.mktemp("live_kernel")
    FrontendClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return {name: cell.outputs for name, cell in zip(LIVE_CELLS, nb.cells, strict=True)}
