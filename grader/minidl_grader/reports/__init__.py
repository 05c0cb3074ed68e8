"""Reports: the terminal table, the CSV and Gradescope's ``results.json`` (``report.py``),
the Gradescope autograder package (``gradescope.py``), similar submissions by groups
(``groups.py``), and the cleaning of every text a
student controls before it is shown or written (``text.py``)."""
