"""One module per cloud runner; each renders the same DeploymentPlan."""
