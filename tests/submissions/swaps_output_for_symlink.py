"""Replaces its output directory with a symlink to a directory of the judge, hoping the
runner follows it when it takes the checkpoint (chown, chmod, validation)."""

import shutil
from pathlib import Path

JUDGE_DIR = "/placeholder/replaced/by/the/test"


def unlearn(model, output, forget, retain):
    shutil.rmtree(output)
    Path(output).symlink_to(JUDGE_DIR)
