// Starts the open-source Unleash server for the tests: its database, port and first admin
// token come from the environment (DATABASE_URL, PORT, INIT_ADMIN_API_TOKENS).
const unleash = require(
  require.resolve('unleash-server', { paths: [process.env.UNLEASH_SERVER_DIR] }),
);

unleash
  .start({
    db: { ssl: false },
    server: { port: parseInt(process.env.PORT, 10) },
    logLevel: 'warn',
  })
  .then(() => console.log('unleash started'))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
