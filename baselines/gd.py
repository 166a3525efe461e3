"""Gradient difference (GD): GA on forget plus the NLL on retain. A valid LUME submission."""

from baselines.method import unlearn_with


def unlearn(
    input_path_to_unlearning_candidate_model,
    output_path_to_write_unlearned_model,
    path_to_forget_set,
    path_to_retain_set,
):
    return unlearn_with(
        "gd",
        input_path_to_unlearning_candidate_model,
        output_path_to_write_unlearned_model,
        path_to_forget_set,
        path_to_retain_set,
        alpha=1.0,
    )
