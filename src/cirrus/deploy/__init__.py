"""Run the pipelines on cloud runners: one declaration (deploy.yml), one image, many targets."""
