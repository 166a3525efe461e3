"""Negative preference optimisation (NPO, beta 0.1) with a retain term. A valid LUME submission."""

from baselines.method import unlearn_with


def unlearn(
    input_path_to_unlearning_candidate_model,
    output_path_to_write_unlearned_model,
    path_to_forget_set,
    path_to_retain_set,
):
    return unlearn_with(
        "npo",
        input_path_to_unlearning_candidate_model,
        output_path_to_write_unlearned_model,
        path_to_forget_set,
        path_to_retain_set,
        beta=0.1,
        retain_term=True,
    )
