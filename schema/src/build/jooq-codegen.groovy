// Flyway migrates an embedded PostgreSQL, then jOOQ generates from it (style rule 9).
// Runs in generate-sources of the schema module; skipped when the migrations are unchanged.
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres
import org.flywaydb.core.Flyway
import org.jooq.codegen.GenerationTool
import org.jooq.meta.jaxb.*
import java.security.MessageDigest

def base = project.basedir
def migrations = new File(base, 'src/main/resources/db/migration')
def outDir = new File(project.build.directory, 'generated-sources/jooq')
def stamp = new File(outDir, '.migrations.sha256')

def digest = MessageDigest.getInstance('SHA-256')
migrations.listFiles().findAll { it.isFile() }.sort { it.name }.each { f ->
    digest.update(f.name.bytes); digest.update(f.bytes)
}
def hash = digest.digest().encodeHex().toString()

project.addCompileSourceRoot(outDir.path)
if (stamp.exists() && stamp.text == hash) {
    log.info("jOOQ classes are up to date with ${migrations}")
    return
}

outDir.deleteDir()
outDir.mkdirs()
def pg = EmbeddedPostgres.builder().setServerConfig('fsync', 'off').start()
try {
    def ds = pg.getPostgresDatabase()
    try {
        Flyway.configure().dataSource(ds).locations("filesystem:${migrations.path}").load().migrate()
    } catch (Exception e) {
        throw new org.apache.maven.plugin.MojoFailureException("Flyway could not apply the migrations: ${e.message}", e)
    }
    def config = new Configuration()
        .withJdbc(new Jdbc()
            .withDriver('org.postgresql.Driver')
            .withUrl("jdbc:postgresql://localhost:${pg.port}/postgres")
            .withUser('postgres'))
        .withGenerator(new Generator()
            .withDatabase(new Database()
                .withName('org.jooq.meta.postgres.PostgresDatabase')
                .withInputSchema('public')
                // Flyway's history and the monthly partitions of api_usage are not part of the model.
                .withExcludes('flyway_.* | api_usage_p.*'))
            .withGenerate(new Generate()
                .withJavaTimeTypes(true)
                .withRecords(true)
                .withPojos(false)
                .withRoutines(true))
            .withTarget(new Target()
                .withPackageName('io.usagemeter.schema.jooq')
                .withDirectory(outDir.path)))
    GenerationTool.generate(config)
    stamp.text = hash
    log.info("jOOQ classes generated into ${outDir}")
} finally {
    pg.close()
}
