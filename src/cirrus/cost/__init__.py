"""Cloud cost of a run and of serving: `kedro cirrus cost`, from the run record, deploy.yml and
the committed price table (`prices.csv`). See docs/cost.md."""
