package org.mas.broker.queues;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.stream.Stream;

import org.apache.activemq.artemis.spi.core.protocol.ProtocolManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads Artemis's OpenWire protocol for the embedded broker. It needs the javax build of the Artemis JMS client, whose
 * classes bear the same names as the Jakarta client the router uses, so its jars (lib/openwire beside the broker's
 * jar or classes) are loaded child-first in a classloader of their own; the server classes stay shared.
 */
final class OpenWireSupport {

    private static final Logger LOG = LoggerFactory.getLogger(OpenWireSupport.class);

    private OpenWireSupport() {
    }

    static Optional<ProtocolManagerFactory> load() {
        Path dir = libraryDirectory();
        if (dir == null || !Files.isDirectory(dir)) {
            LOG.warn("OpenWire is not available: no {} (built by 'mvn package')", dir);
            return Optional.empty();
        }
        List<URL> jars = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path jar : files.filter(p -> p.toString().endsWith(".jar")).toList()) {
                jars.add(jar.toUri().toURL());
            }
        } catch (IOException e) {
            LOG.warn("OpenWire is not available: cannot read {}: {}", dir, e.toString());
            return Optional.empty();
        }
        ClassLoader loader = new ChildFirstClassLoader(jars.toArray(URL[]::new), OpenWireSupport.class.getClassLoader());
        for (ProtocolManagerFactory factory : ServiceLoader.load(ProtocolManagerFactory.class, loader)) {
            if (factory.getClass().getClassLoader() == loader) {
                return Optional.of(factory);
            }
        }
        LOG.warn("OpenWire is not available: no protocol factory in {}", dir);
        return Optional.empty();
    }

    private static Path libraryDirectory() {
        try {
            Path codeSource = Path.of(OpenWireSupport.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return codeSource.getParent().resolve("lib").resolve("openwire");
        } catch (Exception e) {
            return null;
        }
    }

    /** Finds a class in its own jars first, and only then in the parent. */
    private static final class ChildFirstClassLoader extends URLClassLoader {

        static {
            registerAsParallelCapable();
        }

        ChildFirstClassLoader(URL[] urls, ClassLoader parent) {
            super("openwire", urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            synchronized (getClassLoadingLock(name)) {
                Class<?> loaded = findLoadedClass(name);
                if (loaded == null && !name.startsWith("java.")) {
                    try {
                        loaded = findClass(name);
                    } catch (ClassNotFoundException notHere) {
                        loaded = null;
                    }
                }
                if (loaded == null) {
                    loaded = getParent().loadClass(name);
                }
                if (resolve) {
                    resolveClass(loaded);
                }
                return loaded;
            }
        }

        @Override
        public URL getResource(String name) {
            URL own = findResource(name);
            return own != null ? own : super.getResource(name);
        }
    }
}
