"""Unlearning baselines (GA, GD, KL, NPO, SimNPO): each method file is a valid submission."""
