"""Model selection placeholder (replaced below)."""


def select_model(observation, models=("1T", "2T", "3T")):
    raise NotImplementedError
