#!/usr/bin/env python3
"""Fails when the contracts in docs/ and the code disagree: vc.v1 message types and error codes
(docs/protocol.md), HTTP routes and REST error codes (docs/api.md), metadata log events with
their fields (docs/metadata.md), and webhook events with theirs (docs/webhooks.md). Reads the C
sources as text; prints ok/FAIL lines and a "N passed, N failed" summary."""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SIGNAL_DIRS = ('src/signal', 'src/signald')
TURN_DIRS = ('src/turn', 'src/turnd')

passed = 0
failed = 0


def check(name, code, docs, what):
    """One comparison: everything in code must be documented, and nothing documented may be
    missing from the code."""
    global passed, failed
    undocumented = sorted(code - docs)
    stale = sorted(docs - code)
    if not code:
        print(f'FAIL {name} (found no {what} in the code: the scanner is out of date)')
        failed += 1
    elif undocumented or stale:
        why = []
        if undocumented:
            why.append(f'in the code but not in the docs: {", ".join(undocumented)}')
        if stale:
            why.append(f'in the docs but not in the code: {", ".join(stale)}')
        print(f'FAIL {name} ({"; ".join(why)})')
        failed += 1
    else:
        print(f'ok {name} ({len(code)} {what})')
        passed += 1


def fail(name, why):
    global failed
    print(f'FAIL {name} ({why})')
    failed += 1


def read(path):
    with open(os.path.join(ROOT, path), encoding='utf-8') as f:
        return f.read()


def c_sources(dirs):
    """(path, text without comments) of every .c file under dirs."""
    out = []
    for d in dirs:
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            if name.endswith('.c'):
                path = f'{d}/{name}'
                out.append((path, strip_comments(read(path))))
    return out


def strip_comments(text):
    """Removes C comments, leaving string literals alone."""
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*', re.S)
    return pattern.sub(lambda m: m.group(0) if m.group(0).startswith('"') else ' ', text)


def calls(text, func):
    """The argument lists (as lists of top-level argument strings) of every call of func."""
    out = []
    for m in re.finditer(r'\b' + re.escape(func) + r'\s*\(', text):
        i, depth, start, args = m.end(), 1, m.end(), []
        in_str = False
        while i < len(text) and depth:
            c = text[i]
            if in_str:
                if c == '\\':
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c in '([{':
                depth += 1
            elif c in ')]}':
                depth -= 1
                if depth == 0:
                    args.append(text[start:i].strip())
            elif c == ',' and depth == 1:
                args.append(text[start:i].strip())
                start = i + 1
            i += 1
        out.append(args)
    return out


def is_definition(args):
    """True for the parameter list of a function's own definition or prototype."""
    decl = re.compile(r'^(const\s+)?(struct\s+\w+|char|int|unsigned|size_t|u?int\d+_t|void|bool|'
                      r'double|json_t|enum\s+\w+)\b[\s*]*\w*$|^\.\.\.$')
    return any(decl.match(a) for a in args)


def literal(arg):
    """The value of an argument made only of adjacent string literals, else None."""
    parts = re.findall(r'"((?:\\.|[^"\\])*)"', arg)
    if not parts or re.sub(r'"(?:\\.|[^"\\])*"', '', arg).strip():
        return None
    return ''.join(parts)


# ---- the docs --------------------------------------------------------------------------------

def sections(md, level):
    """{title: body} of the Markdown sections at the given heading level."""
    out, title, body = {}, None, []
    mark = '#' * level + ' '
    for line in md.splitlines():
        if line.startswith(mark) or (line.startswith('#') and len(line) - len(line.lstrip('#')) < level):
            if title is not None:
                out[title] = '\n'.join(body)
            title = line[len(mark):].strip() if line.startswith(mark) else None
            body = []
        elif title is not None:
            body.append(line)
    if title is not None:
        out[title] = '\n'.join(body)
    return out


def heading_names(body):
    """Backticked names in the ### headings of a section."""
    names = set()
    for line in body.splitlines():
        if line.startswith('### '):
            names.update(re.findall(r'`([^`]+)`', line))
    return names


def table_first_column(body):
    """Backticked names in the first column of the Markdown tables of a section."""
    names = set()
    for line in body.splitlines():
        cells = line.split('|')
        if line.startswith('|') and len(cells) > 2:
            names.update(re.findall(r'`([^`]+)`', cells[1]))
    return names


def table_pairs(body):
    """(status, code) from tables whose first column is a status and second a backticked code."""
    pairs = set()
    for line in body.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if line.startswith('|') and len(cells) > 3 and re.fullmatch(r'\d{3}', cells[1]):
            for code in re.findall(r'`([^`]+)`', cells[2]):
                pairs.add((int(cells[1]), code))
    return pairs


# ---- vc.v1 -----------------------------------------------------------------------------------

def protocol():
    docs = sections(read('docs/protocol.md'), 2)
    srcs = c_sources(SIGNAL_DIRS)
    text = '\n'.join(t for _, t in srcs)

    client = set(re.findall(r'\{\s*"([a-z-]+)"\s*,\s*SIGMSG_[A-Z_]+\s*\}', read('src/signal/sigmsg.c')))
    check('protocol_client_messages_documented', client,
          heading_names(docs.get('Client to server', '')), 'client message types')

    server = set()
    simple = sorted(set(re.findall(r'\b(\w*send_simple)\s*\(', text)))
    for func, pos in [('sigmsg_encode', 1)] + [(f, 2) for f in simple]:
        for args in calls(text, func):
            if is_definition(args):
                continue
            t = literal(args[pos]) if len(args) > pos else None
            if t is None and args[pos] != 'type':  # a wrapper passing its own parameter on
                fail('protocol_server_message_literal', f'{func}({", ".join(args)[:60]}) has no literal type')
            elif t is not None:
                server.add(t)
    if re.search(r'\bsigmsg_encode_error\s*\(', text):
        server.add('error')
    if re.search(r'\bsigmsg_encode_signal\s*\(', text):
        server.add('signal')
    check('protocol_server_messages_documented', server,
          heading_names(docs.get('Server to client', '')), 'server message types')

    codes = set(re.findall(r'\*code\s*=\s*"([a-z_]+)"', read('src/signal/sigmsg.c')))
    senders = re.findall(r'\b(\w*(?:send_error|send_error_by|ws_error|client_error|encode_error))\s*\(', text)
    for func in sorted(set(senders)):
        for args in calls(text, func):
            if is_definition(args):
                continue
            for a in args:
                v = literal(a)
                if v is not None and re.fullmatch(r'[a-z_]+', v):
                    codes.add(v)
                    break
    check('protocol_error_codes_documented', codes,
          table_first_column(docs.get('Error codes', '')), 'error codes')


# ---- HTTP ------------------------------------------------------------------------------------

def api():
    md = read('docs/api.md')
    docs2 = sections(md, 2)
    srcs = c_sources(SIGNAL_DIRS)
    text = '\n'.join(t for _, t in srcs)

    routes = set()
    for m in re.finditer(r'\{\s*"(/api/[^"]+)"\s*,\s*"([A-Z ]+)"', text):
        for method in m.group(2).split():
            routes.add(f'{method} {m.group(1)}')
    documented = {n for n in heading_names(md) if n.split(' ')[0].isupper() and ' /api/' in n}
    check('api_routes_documented', routes, documented, 'API routes')

    others = set()
    http = strip_comments(read('src/signald/http.c'))
    others.update(f'GET {p}' for p in re.findall(r'strcmp\(\s*h->path\s*,\s*"(/[^"]*)"\s*\)', http))
    static = strip_comments(read('src/signald/static.c'))
    others.update(f'GET {p}' for p in re.findall(r'strcmp\(\s*path\s*,\s*"(/[^"]*)"\s*\)', static))
    ws = strip_comments(read('src/signald/ws.c'))
    others.update(f'GET {p}' for p in re.findall(r'strcmp\(\s*uri\s*,\s*"(/[^"]*)"\s*\)', ws))
    check('http_routes_documented', others, table_first_column(docs2.get('Other routes', '')),
          'other HTTP routes')

    codes, pairs = set(), set()
    for func in sorted(set(re.findall(r'\b(\w*api_error)\s*\(', text))):
        for args in calls(text, func):
            if len(args) < 3 or is_definition(args):
                continue
            lits = [literal(a) for a in args]
            found = [v for v in lits if v is not None and re.fullmatch(r'[a-z_]+', v)]
            statuses = re.findall(r'\b([1-5]\d\d)\b', args[1])
            codes.update(found)
            if len(found) == 1 and len(statuses) == 1 and literal(args[2]) == found[0]:
                pairs.add((int(statuses[0]), found[0]))
    table = docs2.get('Error codes', '')
    check('api_error_codes_documented', codes, {c for _, c in table_pairs(table)}, 'REST error codes')
    wrong = sorted(f'{s} {c}' for s, c in pairs if (s, c) not in table_pairs(table))
    if wrong:
        fail('api_error_statuses_documented', f'status not in the table: {", ".join(wrong)}')
    else:
        print(f'ok api_error_statuses_documented ({len(pairs)} status and code pairs)')
        global passed
        passed += 1


# ---- the metadata log ------------------------------------------------------------------------

def events_in(dirs):
    """{event: set of fields} written by the code under dirs."""
    out = {}
    for path, text in c_sources(dirs):
        for args in calls(text, 'event_log_write'):
            if len(args) < 3 or is_definition(args):
                continue
            event, fmt = literal(args[1]), literal(args[2])
            if event is None or fmt is None:
                fail('metadata_event_literal', f'{path}: event_log_write with a non-literal event or format')
                continue
            nfields = len(re.findall(r'(?:^|[{,])\s*s\s*:', fmt))
            keys = [literal(a) for a in args[3:3 + 2 * nfields:2]]
            if None in keys:
                fail('metadata_field_literal', f'{path}: {event} has a non-literal field name')
                continue
            out.setdefault(event, set()).update(keys)
    return out


def metadata():
    docs = sections(read('docs/metadata.md'), 2)
    for daemon, dirs in (('vc-signal', SIGNAL_DIRS), ('vc-turn', TURN_DIRS)):
        code = events_in(dirs)
        body = docs.get(daemon, '')
        documented = sections(body, 3)
        doc_events = {re.sub(r'`', '', t) for t in documented}
        check(f'metadata_{daemon}_events_documented', set(code), doc_events, 'events')
        for event in sorted(set(code) & doc_events):
            fields = table_first_column(documented.get(f'`{event}`', ''))
            check(f'metadata_{daemon}_{event}_fields_documented', code[event], fields, 'fields')


def webhooks():
    """The events webhooks carry (src/signald/whevent.c) against docs/webhooks.md, and each one's
    fields against what the metadata log writes (a listed field the log lacks stops the event)."""
    table = strip_comments(read('src/signald/whevent.c'))
    code = {m.group(1): set(re.findall(r'"([a-z_]+)"', m.group(2)))
            for m in re.finditer(r'\{\s*"([a-z]+\.[a-z]+)"\s*,\s*\{([^{}]*)\}\s*\}', table)}
    documented = sections(sections(read('docs/webhooks.md'), 2).get('Events', ''), 3)
    check('webhook_events_documented', set(code), {re.sub(r'`', '', t) for t in documented},
          'webhook events')
    logged = events_in(SIGNAL_DIRS)
    for event in sorted(code):
        fields = table_first_column(documented.get(f'`{event}`', ''))
        check(f'webhook_{event}_fields_documented', code[event], fields, 'fields')
        missing = sorted(code[event] - logged.get(event, set()))
        if missing:
            fail(f'webhook_{event}_fields_logged', f'not in its metadata log line: {", ".join(missing)}')


def outside_paths():
    """Nothing in the project points at a file outside the repository."""
    global passed
    hits = []
    for base in ('README.md', 'docs', 'deploy', 'bench/README.md'):
        full = os.path.join(ROOT, base)
        files = [full] if os.path.isfile(full) else [
            os.path.join(d, f) for d, _, fs in os.walk(full) for f in fs]
        for f in files:
            try:
                text = open(f, encoding='utf-8').read()
            except (UnicodeDecodeError, OSError):
                continue
            if re.search(r'\.\./shared|DESIGN\.md', text):
                hits.append(os.path.relpath(f, ROOT))
    if hits:
        fail('docs_point_inside_the_repository', f'outside paths in {", ".join(sorted(hits))}')
    else:
        print('ok docs_point_inside_the_repository')
        passed += 1


protocol()
api()
metadata()
webhooks()
outside_paths()
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
