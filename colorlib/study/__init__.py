"""The study around the core: what the template notebook calls (:mod:`.experiment`), the
notebooks and their parameters (:mod:`.notebooks`), the papermill orchestration behind
``run_all.py`` (:mod:`.runner`), further test sets (:mod:`.test_sets`), a study's results as
loaded (:mod:`.results`), the cross-model
report (:mod:`.report`), what it concludes (:mod:`.conclusions`), its HTML page (:mod:`.page`)
and the explore notebook's widgets (:mod:`.explore`)."""
