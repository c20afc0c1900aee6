"""The model card: facts gathered from a run's outputs (`facts`), rendered as Markdown with
Hugging Face metadata, as a self-contained HTML page and as Amazon SageMaker model card content;
written by `kedro cirrus model-card` (`command`)."""
