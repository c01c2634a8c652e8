import pytest

from msp_nlp.pipeline import Analyzer


@pytest.fixture(scope="session")
def analyzer():
    """The rule pipeline alone (the unit under test in most tests); the trained model is tested in test_model."""
    return Analyzer(model=None)


@pytest.fixture(scope="session")
def labels_of(analyzer):
    def f(text, note_type=None, adult_name=None):
        return analyzer.analyse(text, note_type, adult_name).labels()
    return f
