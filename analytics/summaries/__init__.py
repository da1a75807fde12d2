"""The 6-hour summaries for managers: the figures (``figures``), the deterministic text
in pt-BR and en (``text``), an optional language-model rewrite that must keep the
numbers (``llm``), and the ``summarize`` job (``job``)."""
