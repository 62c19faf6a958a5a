/**
 * A small, fixed corpus of English prose about programming (with a little accented, CJK and
 * typographic text), written for this project. The SentencePiece vocabulary generator
 * (spm-vocab.ts) learns its pieces from it together with CODE_CORPUS, so that both comments and
 * code tokenize into real pieces. Changing this text changes every generated SentencePiece
 * vocabulary (and no byte-level BPE one): bump GENERATOR_VERSION in model-spec.ts when editing it.
 */
export const PROSE_CORPUS = String.raw`
A good function does one thing, and its name says what that thing is. When you read the body, you
should not be surprised: the arguments are checked first, the work is done in the middle, and the
result is returned at the end. If a function needs a long comment to explain what it does, it is
usually doing too much, and the comment is a hint about where to split it.

Tests are the first users of your code. Write them before you are sure the design is right, because
a test that is hard to write shows you an interface that is hard to use. Keep each test small, give
it a name that reads like a sentence, and make it fail before you make it pass. A test that cannot
fail tells you nothing.

Errors deserve the same care as the happy path. Say what went wrong, where, and what the user can do
about it. Do not swallow an exception to keep the program running; a silent failure is the hardest
kind to find. Log the cause, return a clear message, and let the caller decide what happens next.

The editor sends a request for a completion every time the user stops typing. The server reads the
text before and after the cursor, builds a prompt, and asks the model for the most likely middle. If
the user types again before the answer arrives, the request is cancelled and a new one starts. The
answer is cut at the end of the line or the block, so the suggestion never runs past what the user
needs.

Memory is the budget that decides everything else. A model with eight experts reads only two of them
for each token, so the weights that matter for speed are a quarter of the file. The cache of keys and
values grows with the length of the context; when it is full, the oldest entries are dropped or the
prompt is shortened from the start.

Names matter more than clever code. Prefer "count" to "n" when the scope is long, and "n" to
"numberOfItemsInTheList" when the scope is three lines. Use the words of the domain: a tokenizer has
tokens, pieces and merges; a scheduler has jobs, slots and queues. When two things have the same
name, one of them is probably wrong.

Review the change, not the person. Ask why before you ask for a rewrite, and suggest the smallest edit
that fixes the problem. A review is finished when both sides understand the code, not when every
comment has been answered.

Some text is not English. The café on the corner serves crème brûlée, and the naïve façade hides a
Größe that surprises visitors; señor Müller orders a smörgåsbord. 日本語のテキストと中文的文本 also
appear in comments, as do quotes “like these”, dashes — like this one — and arrows → that point
somewhere. Prices are written as 12,50 € or £9.99 or ¥1200, and temperatures as 21 °C… or so.

Documentation is a promise. If the README says that a command takes a path, it must take a path, and
the error for a missing file must say which file was missing. Examples in the docs should run as they
are written; copy them into a test so that they keep running after the next change.

Performance work starts with a measurement. Time the slow case, find where the time goes, change one
thing, and measure again. Most of the time is spent in a few places, and most guesses about which
places are wrong. Keep the benchmark and its numbers next to the code, so that the next person can
repeat them.
`;
