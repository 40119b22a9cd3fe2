import { test, expect } from '@playwright/test';

test('a shard created from a template on the home page lists its files', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('recent-shards')).toBeVisible();
  await page.getByTestId('title-input').fill('My React shard');
  await page.getByTestId('template-react').click();
  await page.getByTestId('create-shard').click();

  await expect(page).toHaveURL(/\/s\/[a-z2-7]+$/);
  await expect(page.getByTestId('shard-title')).toHaveText('My React shard');
  const files = page.getByTestId('file-list').getByTestId('file-item');
  await expect(files).toHaveText([/index\.html/, /src\/main\.jsx/, /src\/App\.jsx/]);
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'online');

  // It is listed on the start page afterwards.
  await page.goto('/');
  await expect(page.getByTestId('recent-shards')).toContainText('My React shard');
});

test('bad input on the home page shows a clear error and creates nothing', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('title-input').fill('   ');
  // The browser's own check passes a title of spaces; the server refuses it.
  await page.getByTestId('create-shard').click();
  await expect(page.getByTestId('form-error')).toContainText('title must not be empty');
  await expect(page).toHaveURL(/\/new$/);
});

test('a new display name shows in the other browser', async ({ browser, request, baseURL }) => {
  const res = await request.post('/api/shards', { data: { title: 'Names', template: 'static' } });
  const { id } = await res.json();
  const a = await browser.newPage();
  const b = await browser.newPage();
  await a.goto(`${baseURL}/s/${id}`);
  await b.goto(`${baseURL}/s/${id}`);
  await expect(a.getByTestId('connection-status')).toHaveAttribute('data-state', 'online');
  await a.getByTestId('name-input').fill('Grace Hopper');
  await a.getByTestId('name-input').press('Enter');
  await expect(b.getByTestId('presence-item').filter({ hasText: 'Grace Hopper' })).toBeVisible();
  await expect(a.getByTestId('presence-item').filter({ hasText: 'Grace Hopper (you)' })).toBeVisible();
  await a.context().close();
  await b.context().close();
});
