"""KL-regularised ascent: GA plus KL to the starting model on retain. A valid LUME submission."""

from baselines.method import unlearn_with


def unlearn(
    input_path_to_unlearning_candidate_model,
    output_path_to_write_unlearned_model,
    path_to_forget_set,
    path_to_retain_set,
):
    return unlearn_with(
        "kl",
        input_path_to_unlearning_candidate_model,
        output_path_to_write_unlearned_model,
        path_to_forget_set,
        path_to_retain_set,
        alpha=1.0,
    )
