"""The prediction API (`kedro cirrus serve`): FastAPI on uvicorn, scoring with `cirrus.scoring`.

Request and response schemas are generated from the dataset contract and the feature spec; the
model is reloaded without downtime when the training publishes a new one; every answered row is
appended to the same prediction log as batch scoring.
"""
