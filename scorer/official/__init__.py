"""The SemEval-2025 Task 4 score, pure, no torch: item metrics, MMLU prompts, the formula."""
