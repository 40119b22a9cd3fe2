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
