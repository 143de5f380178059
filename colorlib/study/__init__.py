"""The study around the core: what the template notebook calls (:mod:`.experiment`), the
notebooks and their parameters (:mod:`.notebooks`), the papermill orchestration behind
``run_all.py`` (:mod:`.runner`) and the cross-model report (:mod:`.report`)."""
