"""What ``import-legacy`` tells the operator, in pt-BR (default) or English (pure module)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from analytics.i18n import text_number
from ingestor.legacy_map import ColumnPlan, Tally

LANGS: Final = ("pt-BR", "en")

_TEXT: Final[dict[str, tuple[str, str]]] = {
    # key: (pt-BR, en); str.format fields
    "bad_url": (
        "--source-url não é uma URL libpq válida (postgresql://usuario@host:5432/emusa_energy): {err}",
        "--source-url is not a valid libpq URL (postgresql://user@host:5432/emusa_energy): {err}",
    ),
    "no_connect": (
        "não foi possível conectar ao banco do app antigo ({where}): {err}",
        "cannot connect to the old app's database ({where}): {err}",
    ),
    "no_table": (
        "a tabela {table!r} não existe no banco do app antigo ({where}); use --table se ela tem outro nome",
        "table {table!r} does not exist in the old app's database ({where}); use --table if it is named otherwise",
    ),
    "no_columns": (
        "a tabela {table} ({where}) não tem as colunas do app antigo: {columns}",
        "table {table} ({where}) lacks the old app's columns: {columns}",
    ),
    "source_failed": (
        "leitura da tabela {table} ({where}) falhou: {err}",
        "reading table {table} ({where}) failed: {err}",
    ),
    "no_ts_index": (
        "a tabela {table} não tem índice em ts: cada página será uma varredura completa; crie"
        " um no banco antigo antes de importar: CREATE INDEX ON {table} (ts, id)",
        "table {table} has no index on ts: every page will scan the whole table; create one in"
        " the old database before importing: CREATE INDEX ON {table} (ts, id)",
    ),
    "bad_name": ("{flag}: {err}", "{flag}: {err}"),
    "bad_instant": (
        "{flag} {value!r} não é uma data ou instante ISO 8601 (2026-01-31 ou 2026-01-31T08:00-03:00)",
        "{flag} {value!r} is not an ISO 8601 date or instant (2026-01-31 or 2026-01-31T08:00-03:00)",
    ),
    "bad_range": (
        "--since ({since}) precisa ser anterior a --until ({until})",
        "--since ({since}) must be before --until ({until})",
    ),
    "bad_aliases": (
        "a tabela de aliases que liga as colunas às grandezas não carrega: {err}",
        "the alias table mapping the columns onto quantities does not load: {err}",
    ),
    "meter_refused": (
        "o medidor {site}/{meter} é desconhecido e o limite de sites/medidores novos"
        " (EMUSA_INGESTOR_MAX_SITES, EMUSA_INGESTOR_MAX_METERS) foi atingido: admita-o com"
        " `emusa-ingestor admit-meter {site} {meter}` ou aumente o limite, e rode de novo",
        "meter {site}/{meter} is unknown and the limit on new sites/meters"
        " (EMUSA_INGESTOR_MAX_SITES, EMUSA_INGESTOR_MAX_METERS) is reached: admit it with"
        " `emusa-ingestor admit-meter {site} {meter}` or raise the limit, and run again",
    ),
    "target_failed": (
        "o banco do EMUSA recusou a importação: {err}",
        "the EMUSA database refused the import: {err}",
    ),
    "progress": ("Importando {table}", "Importing {table}"),
    "rows": ("linhas", "rows"),
    "progress_line": (
        "importação: {done} de {total} linhas ({pct}), {rate} linhas/s, faltam ~{eta}",
        "import: {done} of {total} rows ({pct}), {rate} rows/s, ~{eta} left",
    ),
    "title": (
        "Importação do histórico: {table} -> {site}/{meter}",
        "History import: {table} -> {site}/{meter}",
    ),
    "dry_run": (
        "simulação (--dry-run): nada foi gravado; 'importadas' são as que seriam gravadas",
        "dry run (--dry-run): nothing was written; 'imported' counts what would be stored",
    ),
    "read": ("lidas", "read"),
    "imported": ("importadas", "imported"),
    "duplicates": ("duplicadas", "duplicates"),
    "dup_source": ("mesmo instante na origem", "same instant in the source"),
    "dup_stored": ("já gravadas", "already stored"),
    "rejected": ("rejeitadas (em ingest_rejects)", "rejected (in ingest_rejects)"),
    "rejected_dry": ("rejeitadas", "rejected"),
    "rejects_known": (
        "destas, já em ingest_rejects (não repetidas)",
        "of which already in ingest_rejects (not repeated)",
    ),
    "range": ("período importado", "imported range"),
    "skipped": ("colunas não importadas", "columns not imported"),
    "derived": (
        "calculada pelo app antigo a partir de outras colunas, não é uma medição",
        "computed by the old app from other columns, not a measurement",
    ),
    "no_alias": (
        "sem grandeza canônica na tabela de aliases contract/_aliases_kron03.yaml",
        "no canonical quantity in the alias table contract/_aliases_kron03.yaml",
    ),
    "new_meter": (
        "medidor novo registrado: {site}/{meter}",
        "new meter registered: {site}/{meter}",
    ),
    "new_meter_dry": (
        "medidor novo (seria registrado): {site}/{meter}",
        "new meter (would be registered): {site}/{meter}",
    ),
    "rollups": (
        "agregados (1 min, 15 min, 1 h, 1 dia) atualizados de {start} a {end} ({how})",
        "rollups (1 min, 15 min, 1 h, 1 day) refreshed from {start} to {end} ({how})",
    ),
    "rollups_failed": (
        "ATENÇÃO: agregados não atualizados ({err}); rode a importação de novo com a URL do"
        " dono do esquema (a de `emusa-ingestor migrate`)",
        "WARNING: rollups not refreshed ({err}); run the import again with the schema owner's"
        " URL (the one of `emusa-ingestor migrate`)",
    ),
    "elapsed": ("{seconds} s, {rate} linhas/s", "{seconds} s, {rate} rows/s"),
}


def t(key: str, lang: str, **fields: object) -> str:
    pt, en = _TEXT[key]
    return (en if lang == "en" else pt).format(**fields)


def count(value: float, lang: str) -> str:
    return text_number(value, lang, 0)


def when(ts: datetime) -> str:
    return ts.isoformat(sep=" ")


def duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03`` (hours only when there are some)."""
    whole = max(int(seconds), 0)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def summary(
    tally: Tally,
    plan: ColumnPlan,
    *,
    table: str,
    site: str,
    meter: str,
    lang: str,
    dry_run: bool,
    new_meter: bool,
    seconds: float,
) -> list[str]:
    """The closing summary, one line per figure; rejects by reason code (ingest_rejects)."""

    def c(n: float) -> str:
        return count(n, lang)

    lines = [t("title", lang, table=table, site=site, meter=meter)]
    if dry_run:
        lines.append("  " + t("dry_run", lang))
    rows = [
        (t("read", lang), c(tally.read)),
        (t("imported", lang), c(tally.imported)),
        (t("duplicates", lang), c(tally.duplicates)),
        ("  " + t("dup_source", lang), c(tally.duplicates_in_source)),
        ("  " + t("dup_stored", lang), c(tally.already_stored)),
        (t("rejected_dry" if dry_run else "rejected", lang), c(sum(tally.rejected.values()))),
    ]
    rows += [("  " + reason, c(n)) for reason, n in sorted(tally.rejected.items())]
    if tally.rejects_known:
        rows.append(("  " + t("rejects_known", lang), c(tally.rejects_known)))
    width = max(len(label) for label, _ in rows) + 1
    lines += [f"  {label + ':':<{width}} {value:>12}" for label, value in rows]
    if tally.first is not None and tally.last is not None:
        lines.append(f"  {t('range', lang)}: {when(tally.first)} .. {when(tally.last)}")
    if plan.skipped:
        lines.append(f"  {t('skipped', lang)}:")
        lines += [f"    {column}: {t(why, lang)}" for column, why in plan.skipped.items()]
    if new_meter:
        lines.append(
            "  " + t("new_meter_dry" if dry_run else "new_meter", lang, site=site, meter=meter)
        )
    rate = tally.read / seconds if seconds > 0 else 0.0
    lines.append("  " + t("elapsed", lang, seconds=text_number(seconds, lang, 1), rate=c(rate)))
    return lines
