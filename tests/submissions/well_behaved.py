"""Copies the model to the output directory and returns: the run must end ``ok``."""

import shutil
from pathlib import Path


def unlearn(
    input_path_to_unlearning_candidate_model,
    output_path_to_write_unlearned_model,
    path_to_forget_set,
    path_to_retain_set,
):
    out = Path(output_path_to_write_unlearned_model)
    for item in Path(input_path_to_unlearning_candidate_model).iterdir():
        shutil.copyfile(item, out / item.name)
    forget = sorted(p.name for p in Path(path_to_forget_set).iterdir())
    print("forget set files:", forget)
    total = sum(i * i for i in range(2_000_000))  # some CPU time to account for
    print("done", total)
