"""The study's four notebooks (:data:`NOTEBOOKS`), their parameters (declared here once:
``tools/make_notebooks.py`` writes each parameters cell from them, the runner fills them in),
and their execution through papermill.

papermill only *warns* about a parameter a notebook does not declare; :func:`execute` checks
against ``papermill.inspect_notebook`` first and refuses.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorlib import errors
from colorlib.config import N_VAL, SPLIT_SEED
from colorlib.errors import ConfigError
from colorlib.paths import project_root
from colorlib.runs import StudyPaths

TEMPLATES = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Notebook:
    name: str  # file under notebooks/
    parameters: dict[str, Any]  # the parameters cell: name -> default (literals only)

    @property
    def path(self) -> Path:
        """The template, from the installation (package data ``colorlib/notebooks/``; the
        clone's ``notebooks/`` is a link to it): the study runs from any working directory
        and from an installed colorlib, its outputs relative to the working directory."""
        return TEMPLATES / self.name

    def parameters_source(self) -> str:
        """The parameters cell's code: one ``name = literal`` line per parameter."""
        return "\n".join(f"{k} = {v!r}" for k, v in self.parameters.items())


SPLIT = Notebook(
    "create_validation_split.ipynb",
    {
        "data_dir": "sample",
        "split_file": str(StudyPaths("results/smoke", "models/smoke").split),
        "n_val": N_VAL,
        "seed": SPLIT_SEED,
        "train_splits": ["train"],
    },
)
# The template: the few things a user changes. Everything else (device, seed, output roots,
# epochs, any ExperimentConfig field) goes through `overrides`, resolved by build_config.
TRAIN = Notebook(
    "train_model.ipynb",
    {
        "model_id": "A",
        "profile": "smoke",
        "data_dir": "sample",
        "overrides": {"models_dir": "models/smoke", "results_dir": "results/smoke"},
        "resume": True,
        "nproc_per_node": 1,
    },
)
EVALUATE = Notebook(
    "comprehensive_model_evaluation.ipynb",
    {"results_dir": "results/smoke", "models_dir": "models/smoke"},
)
EXPLORE = Notebook(
    "explore.ipynb",
    {"results_dir": "results/smoke", "models_dir": "models/smoke", "photo": ""},
)
NOTEBOOKS = (SPLIT, TRAIN, EVALUATE, EXPLORE)


def check_parameters(notebook: str | os.PathLike, parameters: dict[str, Any]) -> None:
    """Refuse parameters the notebook does not declare (papermill would only warn)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ConfigError(
            f"{Path(notebook).name} has no parameter(s) {unknown}; it declares {sorted(declared)}"
        )


@functools.cache
def kernel_manager_class():
    """nbclient's kernel manager, made quiet for the study's notebook runs:

    * CurveZMQ transport encryption where pyzmq has it (``transport_encryption="auto"``:
      keys are provisioned when the kernelspec declares support, as ipykernel >= 7.3's
      does), so the kernel's messages are encrypted on the local TCP ports and ipykernel has
      no "Kernel is running over TCP without encryption" warning to print for every run;
    * no SIGINT before the shutdown request. jupyter_client interrupts a kernel first when
      shutting it down; a kernel that is idle after papermill's last cell can still be in a
      message handler then, and prints "[IPKernelApp] ERROR | KeyboardInterrupt caught in
      kernel." (seen about once per study under load). The shutdown request goes over the
      control channel, which a busy kernel still answers, and SIGTERM, then SIGKILL, follow
      when it does not.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class StudyKernelManager(AsyncKernelManager):
        if AsyncKernelManager.class_traits().get("transport_encryption"):  # jupyter_client 8.9

            @default("transport_encryption")
            def _encrypted(self) -> str:
                return "auto" if zmq.has("curve") else "disabled"

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:  # a shutdown's first step: skipped (above)
                await super()._async_interrupt_kernel()

    return StudyKernelManager


def execute(notebook: Notebook, output: str | os.PathLike, parameters: dict[str, Any]) -> None:
    """Run ``notebook`` with ``parameters`` into ``output`` (working directory: the project)."""
    import papermill

    check_parameters(notebook.path, parameters)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook.path),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(project_root()),
            progress_bar=False,
            log_output=False,
            kernel_manager_class=kernel_manager_class(),
        )
    except papermill.PapermillExecutionError as err:
        # the kernel stopped on one of colorlib's anticipated errors: the user's to fix, told in
        # one line (the executed notebook keeps the traceback); anything else stays a bug
        raised = getattr(errors, err.ename, None)
        if isinstance(raised, type) and issubclass(raised, errors.ColorlibError):
            raise errors.StepFailedError(f"{err.evalue} (in {output})") from err
        raise
