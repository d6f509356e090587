"""Data pipeline of the national campus recruitment month.

Pure modules (config, reports, feeds normalising, metrics) import nothing from Airflow; modules that
talk to a system (warehouse, mail, feeds client) are split by the system they talk to. Importing this
package is cheap: heavy libraries are imported inside the functions that need them.
"""
