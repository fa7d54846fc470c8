"""Spec coverage: which cases check each argument, property, method and sentence of the pages.

The two pages are parsed into items (constructor arguments, call arguments,
properties, methods, the usage example), each with its sentences. A case
covers an item when its `spec:` names the item on that page, and a sentence
when its `spec:` quotes words of that sentence. The report also lists, for
each constructor argument, the values the cases give it, and for each call
argument and method, how many cases exercise it.
"""

import json
import re
from collections import defaultdict
from pathlib import Path

from conformance.catalog.paths import SPEC_DIR

PAGES = {"keras3": "keras3-SimpleRNN.md", "keras2": "tf-keras-r1.11-SimpleRNN.md"}


class SpecNotFound(FileNotFoundError):
    pass


def find_spec_dir(explicit=None):
    """The folder of the two pages: `explicit`, else the suite's own copy (spec/, carried by the package)."""
    root = Path(explicit) if explicit else SPEC_DIR
    if all((root / page).is_file() for page in PAGES.values()):
        return root
    raise SpecNotFound("the spec pages were not found; pass --spec DIR (the folder holding "
                       + " and ".join(PAGES.values()) + ")")


def _normalize(text):
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").replace("\u2022", " ")
    return " ".join(text.split())


def _sentences(text):
    text = _normalize(text)
    if not text:
        return []
    parts = []
    for chunk in re.split(r"(?:^|\s)\*\s+", text):  # each bullet of a list is a sentence of its own
        parts += re.split(r"(?<=[.!?])\s+(?=[A-Z(\"])", chunk)
    return [p.strip() for p in parts if len(p.strip()) > 1]


def parse_keras3(text):
    items = []
    section = None
    lines = text.splitlines()
    example = []
    for line in lines:
        stripped = line.strip()
        if stripped in ("Arguments", "Call arguments", "Example"):
            section = stripped
            continue
        bullet = re.match(r"\s*\u2022\s*(\w+):\s*(.*)", line)
        if bullet and section in ("Arguments", "Call arguments"):
            kind = "argument" if section == "Arguments" else "call argument"
            items.append({"page": "keras3", "kind": kind, "name": bullet[1], "sentences": _sentences(bullet[2])})
        elif section == "Example" and stripped:
            example.append(stripped)
    # Constructor arguments that only the signature names (seed): items with the signature as words.
    signature = re.search(r"keras\.layers\.SimpleRNN\((.*?)\n\)", text, re.S)
    named = {i["name"] for i in items}
    for line in (signature[1].splitlines() if signature else []):
        arg = re.match(r"\s*(\w+)=", line)
        if arg and arg[1] not in named:
            items.append({"page": "keras3", "kind": "argument", "name": arg[1], "sentences": [],
                          "code": [_normalize(line)]})
    intro = "Fully-connected RNN where the output is to be fed back as the new input."
    items.insert(0, {"page": "keras3", "kind": "class", "name": "SimpleRNN", "sentences": [intro]})
    items.append({"page": "keras3", "kind": "example", "name": "example",
                  "sentences": [_normalize(s) for s in example if s.startswith("#")],
                  "code": [_normalize(s) for s in example if not s.startswith("#")]})
    return items


def parse_keras2(text):
    items = []
    # Constructor arguments: '* <b>`name`</b>: text' with continuation lines, before '## ' sections.
    head = text.split('<h2 id="__init__">')[0]
    for match in re.finditer(r"\* <b>`(\w+)`</b>:(.*?)(?=\n\* <b>|\n\n|\Z)", head.split("#### Arguments:")[1], re.S):
        items.append({"page": "keras2", "kind": "argument", "name": match[1], "sentences": _sentences(match[2])})
    for section, kind in (("## Properties", "property"), ("## Methods", "method")):
        body = text.split(section, 1)[1]
        body = body.split("\n## ", 1)[0]
        for match in re.finditer(r'<h3 id="(\w+)">.*?</h3>(.*?)(?=<h3 id=|\Z)', body, re.S):
            code = [_normalize(c) for c in re.findall(r"```(?:python)?(.*?)```", match[2], flags=re.S)]
            prose = re.sub(r"```.*?```", "", match[2], flags=re.S)
            prose = re.sub(r"####\s*\w+:", "", prose)
            items.append({"page": "keras2", "kind": kind, "name": match[1], "sentences": _sentences(prose),
                          "code": code})
    init = re.search(r'<h2 id="__init__">.*?```(?:python)?(.*?)```', text, re.S)
    items.append({"page": "keras2", "kind": "method", "name": "__init__", "sentences": [],
                  "code": [_normalize(line) for line in init[1].splitlines() if line.strip()] if init else []})
    intro = "Fully-connected RNN where the output is to be fed back to input."
    items.insert(0, {"page": "keras2", "kind": "class", "name": "SimpleRNN", "sentences": [intro]})
    return items


def spec_items(spec_dir):
    spec_dir = Path(spec_dir)
    return (parse_keras3((spec_dir / PAGES["keras3"]).read_text(encoding="utf-8"))
            + parse_keras2((spec_dir / PAGES["keras2"]).read_text(encoding="utf-8")))


def _mutants_breaking(kill_matrix):
    """{(page, item): [(normalized sentence or None, mutant name, its killers)]} of the mutant catalog."""
    from conformance.targets.mutants import CATALOG

    breaking = defaultdict(list)
    for mutant in CATALOG:
        ref = mutant.breaks or {}
        if ref:
            sentence = _normalize(ref["sentence"]) if ref.get("sentence") else None
            breaking[(ref["page"], ref["item"])].append((sentence, mutant.name, set(kill_matrix.get(mutant.name, ()))))
    return breaking


def coverage(cases, spec_dir, kill_matrix=None):
    """The coverage report as a dict (see module docstring).

    With a kill matrix ({mutant: ids of the cases that kill it}, conformance/tools/killmatrix.py),
    each sentence also says which mutants break it (their `breaks` quotes it) and whether it is
    *checked*: some mutant breaking it is killed by a case citing that sentence.
    """
    items = spec_items(spec_dir)
    breaking = _mutants_breaking(kill_matrix) if kill_matrix is not None else {}
    by_item = defaultdict(set)
    quotes = defaultdict(list)
    for case in cases:
        for ref in case.spec:
            by_item[(ref["page"], ref["item"])].add(case.id)
            if ref.get("sentence"):
                quotes[(ref["page"], ref["item"])].append((_normalize(ref["sentence"]), case.id))
    values = _values_exercised(cases)
    report_items, missing_items, missing_sentences = [], [], []
    sentence_total = sentence_covered = sentences_broken = sentences_checked = 0
    for item in items:
        key = (item["page"], item["name"])
        cited = sorted(by_item.get(key, ()))
        sentences = []
        for sentence in item["sentences"]:
            covering = sorted({cid for quote, cid in quotes[key]
                               if quote and (quote in sentence or sentence in quote)})
            entry = {"sentence": sentence, "cases": covering}
            if kill_matrix is not None:
                broken_by = [(name, killers) for quote, name, killers in breaking.get(key, ())
                             if quote and (quote in sentence or sentence in quote)]
                entry["mutants"] = sorted(name for name, _ in broken_by)
                entry["checked"] = any(killers & set(covering) for _, killers in broken_by)
                sentences_broken += bool(broken_by)
                sentences_checked += entry["checked"]
            sentences.append(entry)
            sentence_total += 1
            if covering:
                sentence_covered += 1
            else:
                missing_sentences.append(f"{item['page']} {item['name']}: {sentence}")
        if not cited:
            missing_items.append(f"{item['page']} {item['kind']} {item['name']}")
        report_items.append({**{k: item[k] for k in ("page", "kind", "name")}, "cases": cited,
                             "case_count": len(cited), "values": values.get(item["name"], []),
                             "sentences": sentences})
    # A quote that is on no sentence of its item is a typo or a misattribution.
    sentences_of = defaultdict(list)
    for item in items:
        sentences_of[(item["page"], item["name"])].extend(item["sentences"])
    for item in items:  # a method's signature is words of the page too
        sentences_of[(item["page"], item["name"])].extend(item.get("code", []))
    unmatched = sorted({f"{page} {name} [{cid.split('[')[0]}]: {quote}" for (page, name), pairs in quotes.items()
                        for quote, cid in pairs
                        if not any(quote in s or s in quote for s in sentences_of.get((page, name), []))})
    return {
        "unmatched_quotes": unmatched,
        "items": report_items,
        "summary": {
            "items": len(items), "items_covered": len(items) - len(missing_items),
            "sentences": sentence_total, "sentences_covered": sentence_covered,
            "item_percent": round(100.0 * (len(items) - len(missing_items)) / max(1, len(items)), 2),
            "sentence_percent": round(100.0 * sentence_covered / max(1, sentence_total), 2),
            **({"sentences_broken_by_a_mutant": sentences_broken, "sentences_checked": sentences_checked}
               if kill_matrix is not None else {}),
        },
        "missing_items": missing_items,
        "missing_sentences": missing_sentences,
    }


def _values_exercised(cases):
    seen = defaultdict(set)
    for case in cases:
        concrete = case.concrete()
        for step in concrete["steps"]:
            if step["op"] == "create":
                for key, value in step["args"]["layer"].items():
                    seen[key].add(json.dumps(value, sort_keys=True))
            elif step["op"] in ("call", "gradients"):
                for key in ("mask", "training", "initial_state"):
                    value = step["args"].get(key)
                    seen[key].add("given" if value is not None and key != "training" else json.dumps(value))
                seen["sequence"].add(json.dumps(list(step["args"]["inputs"].shape)))
            elif step["op"] == "get_property":
                seen[step["args"]["name"]].add("read")
            else:
                seen[step["op"]].add("called")
    return {k: sorted(v)[:50] for k, v in seen.items()}


def render_markdown(report):
    s = report["summary"]
    lines = ["# Spec coverage", "",
             f"Items covered: {s['items_covered']} of {s['items']} ({s['item_percent']}%). "
             f"Sentences covered: {s['sentences_covered']} of {s['sentences']} ({s['sentence_percent']}%).", "",
             "| page | kind | item | cases | values exercised |", "|---|---|---|---:|---|"]
    if "sentences_checked" in s:
        lines[3:3] = [f"Sentences checked (some mutant breaking the sentence is killed by a case citing it): "
                      f"{s['sentences_checked']} of the {s['sentences_broken_by_a_mutant']} that a mutant breaks.", ""]
    for item in report["items"]:
        values = ", ".join(item["values"][:8]) + (" ..." if len(item["values"]) > 8 else "")
        lines.append(f"| {item['page']} | {item['kind']} | `{item['name']}` | {item['case_count']} | {values} |")
    unchecked = [f"{i['page']} {i['name']}: {x['sentence']} (mutants: {', '.join(x['mutants'])})"
                 for i in report["items"] for x in i["sentences"] if x.get("mutants") and not x.get("checked")]
    if unchecked:
        lines += ["", "## Sentences a mutant breaks but no case citing them kills it", ""]
        lines += [f"- {u}" for u in unchecked]
    if report["unmatched_quotes"]:
        lines += ["", "## Quotes found on no sentence of their item", ""]
        lines += [f"- {q}" for q in report["unmatched_quotes"]]
    if report["missing_items"] or report["missing_sentences"]:
        lines += ["", "## Not covered", ""]
        lines += [f"- item: {m}" for m in report["missing_items"]]
        lines += [f"- sentence: {m}" for m in report["missing_sentences"]]
    return "\n".join(lines) + "\n"
