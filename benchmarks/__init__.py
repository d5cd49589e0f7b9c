"""Benchmarks: one command per question, each printing a Markdown table and writing JSON to results/."""
