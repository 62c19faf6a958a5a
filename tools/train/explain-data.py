#!/usr/bin/python3
"""Explanation samples for the chat side of the model, made from the training files themselves.

A documented function or class is a (code, explanation) pair written by its author: the code with its
documentation removed is the "selection", the first paragraph of the documentation is the answer. Each sample is
laid out exactly as the daemon asks for an explanation (daemon/features/explain-prompt.ts, ChatML):

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{ask}\\n\\nThe code is {lang} from `{path}`, lines a–b:
    ```{lang}\\n{code}\\n```<|im_end|>\\n<|im_start|>assistant\\n{answer}<|im_end|>

Python: functions and classes with a docstring (ast; the docstring statement is cut out of the source).
TypeScript/JavaScript: a /** JSDoc */ block followed by a function, method or class declaration (the block is the
answer after dropping @tags; the declaration is cut at its matching closing brace).
Only held-out-free training files are read (work/corpus/train.jsonl); code of 2-24 lines and at most --max-code
characters, answers of 4-60 words.

Output: work/corpus/explain.jsonl, one {"system", "user", "assistant", "lang"} per line.
Usage: /usr/bin/python3 tools/train/explain-data.py [--max-samples 12000]
"""
import argparse
import ast
import json
import os
import random
import re

# must match DEFAULT_SYSTEM_PROMPT in daemon/features/chat-prompt.ts and the ask in explain-prompt.ts
SYSTEM = ("You are MoeCode, a coding assistant running locally in the user's editor. Answer concisely and accurately. "
          "Put code in fenced blocks with a language tag.")
ASK = 'Explain what this code does, step by step, and point out anything surprising.'


def fence(text):
    """A backtick fence longer than any backtick run in the text (daemon/features/chat-prompt.ts `fence`)."""
    return '`' * (max([2] + [len(r) for r in re.findall(r'`+', text)]) + 1)


def explain_user_message(lang, path, first_line, last_line, code):
    """The user message the daemon sends for "Explain Selection" with no surrounding code
    (daemon/features/explain-prompt.ts `explainMessages`)."""
    where = f'line {first_line}' if first_line == last_line else f'lines {first_line}–{last_line}'
    f = fence(code)
    return f'{ASK}\n\nThe code is {lang} from `{path}`, {where}:\n{f}{lang}\n{code}\n{f}'


def first_paragraph(doc):
    para = []
    for line in doc.strip().splitlines():
        line = line.strip()
        if not line:
            if para:
                break
            continue
        if line.startswith('@') or line.startswith(':param') or line.startswith('>>>') or re.match(r'^(Args|Returns|Parameters|Raises)\s*:?$', line):
            break
        para.append(line)
    text = ' '.join(para)
    text = re.sub(r'\{@link\s+([^}]+)\}', r'`\1`', text)
    return text.strip()


def good_answer(text):
    words = text.split()
    return 4 <= len(words) <= 60 and not re.search(r'(?i)\b(todo|fixme|deprecated|copyright|licen[cs]e)\b', text) and text[0].isalpha()


def python_pairs(text):
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    lines = text.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        doc = ast.get_docstring(node)
        if not doc or not node.body or not isinstance(node.body[0], ast.Expr):
            continue
        d = node.body[0]
        start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
        end = node.end_lineno
        code_lines = lines[start:d.lineno - 1] + lines[d.end_lineno:end]
        if len(node.body) == 1:  # documentation only: nothing left to explain
            continue
        indent = min((len(l) - len(l.lstrip()) for l in code_lines if l.strip()), default=0)
        code = '\n'.join(l[indent:] for l in code_lines).strip('\n')
        yield start + 1, end, code, first_paragraph(doc)


JSDOC_DECL = re.compile(r'/\*\*((?:(?!\*/).)*?)\*/[ \t]*\n([ \t]*)((?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\b|class\b|(?:public\s+|private\s+|protected\s+|static\s+)*[A-Za-z_$][\w$]*\s*\([^)\n]*\)\s*(?::[^{\n]+)?\{))', re.S)


def js_pairs(text):
    for m in JSDOC_DECL.finditer(text):
        doc = '\n'.join(re.sub(r'^\s*\*?\s?', '', l) for l in m.group(1).splitlines())
        start = m.start(3) - len(m.group(2))
        # cut the declaration at its matching closing brace (strings and comments are not parsed: keep short ones)
        i = text.find('{', m.start(3))
        if i < 0 or i - m.start(3) > 300 or ';' in text[m.start(3):i]:  # a declaration without a body
            continue
        depth, end = 0, -1
        while i < len(text) and i - start < 3000:
            c = text[i]
            if c == '{':
                depth += 1
            elif c == '}':
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
            i += 1
        if end < 0:
            continue
        block = text[start:end]
        indent = len(m.group(2))
        code = '\n'.join(l[indent:] if l[:indent].strip() == '' else l for l in block.splitlines())
        line0 = text.count('\n', 0, start) + 1
        yield line0, line0 + block.count('\n'), code, first_paragraph(doc)


def documented_code(doc, max_code=480):
    """(first line, last line, code, answer) for each sample one corpus file gives: 2-24 lines of code of at most
    max_code characters, with an answer that passes good_answer."""
    pairs = python_pairs(doc['text']) if doc['lang'] == 'python' else js_pairs(doc['text'])
    for a, b, code, answer in pairs:
        if 2 <= code.count('\n') + 1 <= 24 and len(code) <= max_code and good_answer(answer):
            yield a, b, code, answer


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpus', default=os.path.join(here, 'work', 'corpus', 'train.jsonl'))
    ap.add_argument('--out', default=os.path.join(here, 'work', 'corpus', 'explain.jsonl'))
    ap.add_argument('--max-samples', type=int, default=12000)
    ap.add_argument('--max-code', type=int, default=480)
    ap.add_argument('--seed', type=int, default=11)
    args = ap.parse_args()
    samples = []
    for line in open(args.corpus):
        d = json.loads(line)
        rel = re.sub(r'^.*?/(node_modules|dist-packages|python3\.\d+)/', '', d['path'])
        for a, b, code, answer in documented_code(d, args.max_code):
            lang = d['lang']
            user = explain_user_message(lang, rel, a, b, code)
            samples.append({'system': SYSTEM, 'user': user, 'assistant': answer, 'lang': lang})
    rng = random.Random(args.seed)
    rng.shuffle(samples)
    by_lang = {}
    for s in samples:
        by_lang[s['lang']] = by_lang.get(s['lang'], 0) + 1
    samples = samples[:args.max_samples]
    with open(args.out, 'w') as f:
        for s in samples:
            f.write(json.dumps(s) + '\n')
    print(json.dumps({'found': by_lang, 'kept': len(samples), 'out': args.out}))


if __name__ == '__main__':
    main()
