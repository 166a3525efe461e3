"""Unlearning baselines (GA, GD, KL, NPO): each method file is a valid submission."""
