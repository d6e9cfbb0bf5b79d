"""A worker's set-up pre-annotators are reused per label configuration and model, and set up again when the loaded
terminologies change (a MONDO file loaded after the worker started is used by the next job)."""
from server.jobs import preannotate as jobs


class FakeStore:
    def __init__(self):
        self.builds = {"icd10cm": "b1"}

    def names(self):
        return sorted(self.builds)

    def build_ids(self):  # as OntologyStore.build_ids: (name, build) per loaded terminology
        return tuple(sorted(self.builds.items()))


class Annotator:
    name, version = "fake", "1"

    def __init__(self):
        self.setups = 0

    def setup(self, device, label_config, params=None, resources=None):
        self.setups += 1


class Modality:
    name = "notes"


def test_setup_is_cached_until_the_loaded_terminologies_change(monkeypatch):
    store = FakeStore()
    monkeypatch.setattr(jobs, "resources", lambda: {"ontologies": store})
    jobs.clear_model_cache()
    annotator, config = Annotator(), {"entity_labels": []}
    try:
        assert jobs._setup_cached(Modality(), annotator, "cpu", config, None) == (annotator, False)
        assert jobs._setup_cached(Modality(), annotator, "cpu", config, None) == (annotator, True)
        store.builds["mondo"] = "m1"  # loaded while the worker runs
        assert jobs._setup_cached(Modality(), annotator, "cpu", config, None)[1] is False
        store.builds["icd10cm"] = "b2"  # rebuilt
        assert jobs._setup_cached(Modality(), annotator, "cpu", config, None)[1] is False
        assert annotator.setups == 3
    finally:
        jobs.clear_model_cache()
