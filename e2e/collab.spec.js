import { test, expect } from '@playwright/test';

const nodeB = () => `http://127.0.0.1:${process.env.E2E_PORT_B}`;

async function newShard(request) {
  const res = await request.post('/api/shards', { data: { title: 'Pair', template: 'vanilla', visibility: 'public' } });
  expect(res.status()).toBe(201);
  return (await res.json()).id;
}

async function openEditor(browser, base, shardId, name) {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'mt_name', value: name, url: base }]);
  const page = await context.newPage();
  await page.goto(`${base}/s/${shardId}`);
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'online');
  return { context, page };
}

const editorText = (page, file) => page.evaluate((f) => window.multitab.tabs.get(f)?.view.state.doc.toString(), file);

async function openFile(page, name) {
  await page.getByTestId('file-list').getByTestId('file-item').filter({ hasText: name }).click();
  const file = await page.getByTestId('file-list').getByTestId('file-item').filter({ hasText: name }).getAttribute('data-file');
  await expect(page.locator(`.cm-editor[data-file="${file}"]`)).toBeVisible();
  return file;
}

test('two people on two nodes type into one file and into different tabs, and converge', async ({ browser, request, baseURL }) => {
  const shardId = await newShard(request);
  const a = await openEditor(browser, baseURL, shardId, 'Ada');
  const b = await openEditor(browser, nodeB(), shardId, 'Bob');

  // Each sees the other in the presence list.
  await expect(a.page.getByTestId('presence-item').filter({ hasText: 'Bob' })).toBeVisible();
  await expect(b.page.getByTestId('presence-item').filter({ hasText: 'Ada' })).toBeVisible();

  // Same file, typing at the same time.
  const main = await openFile(a.page, 'src/main.js');
  await openFile(b.page, 'src/main.js');
  // Different places of one file: two people typing at the very same spot
  // interleave their characters, which converges but reads as a jumble.
  const typeAt = async (page, key, text) => {
    await page.locator(`.cm-editor[data-file="${main}"] .cm-content`).click();
    await page.keyboard.press(key);
    await page.keyboard.type(text, { delay: 15 });
  };
  await Promise.all([typeAt(a.page, 'Control+End', '\n// Ada was here 😀'), typeAt(b.page, 'Control+Home', '// Bob était là 漢字\n')]);

  await expect.poll(async () => {
    const [ta, tb] = [await editorText(a.page, main), await editorText(b.page, main)];
    return ta === tb && ta.includes('Ada was here 😀') && ta.includes('Bob était là 漢字');
  }).toBe(true);

  // Each sees the other's cursor, labelled with the name.
  await expect(a.page.locator(`.cm-editor[data-file="${main}"] [data-testid=remote-cursor]`)).toContainText('Bob');
  await expect(b.page.locator(`.cm-editor[data-file="${main}"] [data-testid=remote-cursor]`)).toContainText('Ada');

  // Different tabs at the same time.
  const css = await openFile(a.page, 'src/style.css');
  const html = await openFile(b.page, 'index.html');
  await Promise.all([
    (async () => { await a.page.locator(`.cm-editor[data-file="${css}"] .cm-content`).click(); await a.page.keyboard.press('Control+Home'); await a.page.keyboard.type('/* css by Ada */\n', { delay: 10 }); })(),
    (async () => { await b.page.locator(`.cm-editor[data-file="${html}"] .cm-content`).click(); await b.page.keyboard.press('Control+Home'); await b.page.keyboard.type('<!-- html by Bob -->\n', { delay: 10 }); })(),
  ]);
  // Presence shows who is on which file.
  await expect(a.page.getByTestId('presence-item').filter({ hasText: 'Bob' })).toContainText('index.html');
  await expect(b.page.getByTestId('presence-item').filter({ hasText: 'Ada' })).toContainText('src/style.css');

  // Both end with identical text in every file, and so does the server.
  await openFile(a.page, 'index.html');
  await openFile(b.page, 'src/style.css');
  for (const f of [main, css, html]) {
    await expect.poll(async () => (await editorText(a.page, f)) === (await editorText(b.page, f))).toBe(true);
  }
  await expect.poll(async () => {
    const live = await (await request.get(`/api/shards/${shardId}`)).json();
    const byId = Object.fromEntries(live.files.map((f) => [f.id, f.text]));
    return byId[css].startsWith('/* css by Ada */') && byId[html].startsWith('<!-- html by Bob -->') &&
      byId[main] === (await editorText(a.page, main));
  }).toBe(true);

  await a.context.close();
  await b.context.close();
});

test('files created and renamed in one browser appear in the other', async ({ browser, request, baseURL }) => {
  const shardId = await newShard(request);
  const a = await openEditor(browser, baseURL, shardId, 'Ada');
  const b = await openEditor(browser, nodeB(), shardId, 'Bob');
  a.page.once('dialog', (d) => d.accept('src/util.js'));
  await a.page.getByTestId('new-file').click();
  await expect(b.page.getByTestId('file-item').filter({ hasText: 'src/util.js' })).toBeVisible();

  const item = a.page.getByTestId('file-item').filter({ hasText: 'src/util.js' });
  await item.hover();
  a.page.once('dialog', (d) => d.accept('src/utils.js'));
  await item.getByTestId('rename-file').click();
  await expect(b.page.getByTestId('file-item').filter({ hasText: 'src/utils.js' })).toBeVisible();

  // A bad name is refused with a clear message and changes nothing.
  a.page.once('dialog', (d) => d.accept('../escape.js'));
  await a.page.getByTestId('new-file').click();
  await expect(a.page.getByTestId('notice')).toContainText('segment');
  await expect(b.page.getByTestId('file-item')).toHaveCount(4);
  await a.context.close();
  await b.context.close();
});

test('two people typing at the very same spot converge and lose no character', async ({ browser, request, baseURL }) => {
  const shardId = await newShard(request);
  const a = await openEditor(browser, baseURL, shardId, 'Ada');
  const b = await openEditor(browser, nodeB(), shardId, 'Bob');
  const main = await openFile(a.page, 'src/main.js');
  await openFile(b.page, 'src/main.js');
  const original = await editorText(a.page, main);
  const typeAtEnd = async (page, text) => {
    await page.locator(`.cm-editor[data-file="${main}"] .cm-content`).click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text, { delay: 10 });
  };
  const ada = 'aaaaaaaaaaaaaaaaaaaa', bob = 'bbbbbbbbbbbbbbbbbbbb';
  await Promise.all([typeAtEnd(a.page, ada), typeAtEnd(b.page, bob)]);
  await expect.poll(async () => {
    const [ta, tb] = [await editorText(a.page, main), await editorText(b.page, main)];
    if (ta !== tb || !ta.startsWith(original)) return 'diverged';
    const added = ta.slice(original.length);
    return [added.split('a').length - 1, added.split('b').length - 1];
  }).toEqual([ada.length, bob.length]);
  await a.context.close();
  await b.context.close();
});

test('edits typed while the socket is down are kept and arrive after the reconnect', async ({ browser, request, baseURL }) => {
  const shardId = await newShard(request);
  const a = await openEditor(browser, baseURL, shardId, 'Ada');
  const b = await openEditor(browser, nodeB(), shardId, 'Bob');
  const main = await openFile(a.page, 'src/main.js');
  await openFile(b.page, 'src/main.js');
  const editor = a.page.locator(`.cm-editor[data-file="${main}"] .cm-content`);
  await editor.click();
  await a.page.keyboard.press('Control+End');
  await a.page.keyboard.type('\n// online');
  await expect.poll(() => editorText(b.page, main)).toContain('// online');

  // Ada's socket drops and she goes offline, so reconnects fail until she
  // is back; she keeps typing meanwhile. (Close before going offline: an
  // offline browser cannot finish the close handshake. The first retry is
  // put 8 s out so that it cannot beat setOffline.)
  await a.page.evaluate(() => new Promise((resolve) => {
    const { conn } = window.multitab;
    conn.attempt = 5;
    conn.ws.addEventListener('close', resolve);
    conn.ws.close();
  }));
  await a.context.setOffline(true);
  await expect(a.page.getByTestId('connection-status')).toHaveAttribute('data-state', 'reconnecting');
  await a.page.keyboard.type('\n// typed offline ✈');
  // Bob edits meanwhile too.
  await b.page.locator(`.cm-editor[data-file="${main}"] .cm-content`).click();
  await b.page.keyboard.press('Control+Home');
  await b.page.keyboard.type('// Bob meanwhile\n');

  await a.context.setOffline(false);
  await expect(a.page.getByTestId('connection-status')).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await expect.poll(async () => {
    const [ta, tb] = [await editorText(a.page, main), await editorText(b.page, main)];
    return ta === tb && ta.includes('// typed offline ✈') && ta.startsWith('// Bob meanwhile');
  }).toBe(true);
  await a.context.close();
  await b.context.close();
});
