import pytest

from msp_nlp.pipeline import Analyzer


@pytest.fixture(scope="session")
def analyzer():
    return Analyzer()


@pytest.fixture(scope="session")
def labels_of(analyzer):
    def f(text, note_type=None, adult_name=None):
        return analyzer.analyse(text, note_type, adult_name).labels()
    return f
