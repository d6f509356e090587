"""The dev kit: everything that runs the product on a developer's machine and is not the product.

It lives beside the runtime package (``plugins/recruitment_month``) and is never copied into the
production image; the product does not import it (a ruff rule, TID251, refuses such an import in
``plugins/`` and ``dags/``). The Makefile, the tests, the benchmarks and the compose file's development
image put ``devkit/`` on the path.

- :mod:`recruitment_devkit.environment`: applies ``include/config/dev.env`` (the Makefile's ``RUN``).
- :mod:`recruitment_devkit.feed_simulator`: the 12 partner platforms' job feeds over real HTTP.
- :mod:`recruitment_devkit.mailsink`: a local SMTP server writing each message as an ``.eml`` file.
- :mod:`recruitment_devkit.demo_inbox`: a synthetic inbox of provincial weekly reports.
- :mod:`recruitment_devkit.sample_summary`: summaries the real pipeline computes over the demo inbox, and their email preview.
- :mod:`recruitment_devkit.unit_sizes`: how big each unit is, the one table every generator reads.
- :mod:`recruitment_devkit.demo`: ``make demo``, the 2022 campaign in one process.
- :mod:`recruitment_devkit.distributed`: ``make distributed-demo``, one week on a distributed Airflow.
- :mod:`recruitment_devkit.airflow_processes`: Airflow components as child processes, started and
  stopped leaving nothing behind (the distributed run and the UI test).
"""
