"""Loading helpers shared by the analyses: a run's embeddings by role, with the layer's norms."""

from __future__ import annotations

from embnorm import io, paths

ROLES = ("id_train", "id_test", "ood_train", "ood_test")


def role_datasets(params: dict) -> dict[str, tuple[str, str]]:
    """(dataset, split) of each role for a run: its source dataset's splits and its OOD partner's."""
    roles = {"id_train": (params["source"], "train"), "id_test": (params["source"], "test")}
    if params.get("ood"):
        roles.update({"ood_train": (params["ood"], "train"), "ood_test": (params["ood"], "test")})
    return roles


def embeddings_path(run_id: str, dataset: str, split: str) -> str:
    return paths.fmt(paths.RUN_EMBEDDINGS, run=run_id, dataset=dataset, split=split)


def load_embeddings(params: dict, role: str) -> dict:
    dataset, split = role_datasets(params)[role]
    return io.read_npz(embeddings_path(params["run_id"], dataset, split))


def load_params(run_ids) -> list[dict]:
    return [io.read_json(paths.fmt(paths.RUN_PARAMS, run=r)) for r in run_ids]
