"""SimNPO: reference-free, length-normalised NPO plus a retain term. A valid LUME submission.

Its loss terms and default hyper-parameters are the ``"simnpo"`` row of ``baselines.methods``.
"""

from baselines.train import unlearn_with


def unlearn(
    input_path_to_unlearning_candidate_model,
    output_path_to_write_unlearned_model,
    path_to_forget_set,
    path_to_retain_set,
):
    """The official entry point: leave the unlearned checkpoint in the output directory."""
    return unlearn_with(
        "simnpo",
        input_path_to_unlearning_candidate_model,
        output_path_to_write_unlearned_model,
        path_to_forget_set,
        path_to_retain_set,
    )
